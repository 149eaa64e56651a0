"""The outbox as a channel: where a platform cannot push (KakaoTalk without the Event
API), a message waits here and is shown with the person's next message, by that
platform's answer (so with what its answers can show: quick replies, link cards,
pictures by address)."""

from __future__ import annotations

from dataclasses import replace

from bot.channels import Capabilities, outgoing_reply
from bot.kakao_render import to_plain
from handlers.events import Reply
from services.container import Services
from services.messaging.notifier import BroadcastReport, Outgoing


class Outbox:
    """A `Channel` that keeps messages for later; it always reaches (the person reads
    it when they next write), so it never reports a chat unreachable."""

    start_link: str | None = None
    outbox: Outbox | None = None  # it is the place things wait

    def __init__(self, services: Services, platform: str, shown_with: Capabilities) -> None:
        self.services = services
        self.platform = platform
        self.capabilities = replace(shown_with, push=False, reads_outbox=True, groups=False,
                                    edits=False, deletion=False)

    async def keep(self, waiting: list[tuple[str, Reply]]) -> None:
        """Messages for several people, in one transaction."""
        if not waiting:
            return
        async with self.services.transaction() as tx:
            for user_id, reply in waiting:
                await tx.outbox.put(self.platform, user_id, to_plain([reply]))

    async def post(self, chat_id: str, reply: Reply) -> bool:
        await self.keep([(chat_id, reply)])
        return True

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        await self.keep([(m.chat_id, outgoing_reply(m)) for m in messages])
        return BroadcastReport(sent=len(messages), unreachable=[], failed=[])
