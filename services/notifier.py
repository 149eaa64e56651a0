"""The outbound side of the transports, as jobs and services see it.

Jobs send reminders and results through this small interface; each transport in `bot/`
implements it. A broadcast goes through one paced sender, so it never trips a
platform's flood control for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    chat_id: str
    text: str


@dataclass
class BroadcastReport:
    sent: int = 0
    # Chats the platform refused (the user never started the bot, or blocked it).
    unreachable: list[str] | None = None
    failed: list[str] | None = None


class Notifier(Protocol):
    platform: str

    async def send(self, chat_id: str, text: str) -> bool:
        """Send one message; False when the chat cannot be reached."""
        ...

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        """Send many messages to many chats at a pace the platform accepts."""
        ...
