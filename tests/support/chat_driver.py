"""Drive the handlers like a person in a chat: say things, press buttons, read replies."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.dispatcher import Dispatcher, Outcome
from handlers.events import Incoming, Reply


@dataclass
class Person:
    dispatcher: Dispatcher
    user_id: str
    name: str = "tester"
    platform: str = "console"
    chat_kind: str = "private"
    chat_id: str | None = None
    language_hint: str | None = "ko"
    last: Outcome = field(default_factory=Outcome)

    async def say(self, text: str) -> list[Reply]:
        return await self._send(text, None)

    async def press(self, label: str) -> list[Reply]:
        for reply in reversed(self.last.replies):
            for button in reply.buttons:
                if button.label == label:
                    return await self._send(button.label, button.payload)
        raise AssertionError(f"no button {label!r} in {self.last.replies}")

    async def send_file(self, name: str, data: bytes) -> list[Reply]:
        return await self._send("", None, attachment=(name, data))

    async def _send(self, text: str, payload: str | None,
                    attachment: tuple[str, bytes] | None = None) -> list[Reply]:
        event = Incoming(
            platform=self.platform,
            chat_id=self.chat_id or self.user_id,
            chat_kind=self.chat_kind,  # type: ignore[arg-type]
            user_id=self.user_id,
            user_name=self.name,
            text=text,
            payload=payload,
            language_hint=self.language_hint,
            attachment=attachment[1] if attachment else None,
            attachment_name=attachment[0] if attachment else None,
        )
        self.last = await self.dispatcher.handle(event)
        return self.last.replies

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last.replies)
