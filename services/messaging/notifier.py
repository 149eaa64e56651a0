"""The outbound side of the transports, as jobs and services see it.

Jobs send reminders and results through the `Delivery` interface below; bot/delivery.py
implements it over the transports' channels (bot/channels.py). A broadcast goes through
one paced sender per platform, so it never trips its flood control for everyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from services.week.calendar import Week


@dataclass(frozen=True)
class Outgoing:
    chat_id: str
    text: str
    # A link button (label, URL) where the platform shows one (the personal web page).
    link: tuple[str, str] | None = None


@dataclass
class BroadcastReport:
    sent: int = 0
    # Chats the platform refused (the user never started the bot, or blocked it).
    unreachable: list[str] | None = None
    failed: list[str] | None = None


Render = Callable[[str], str]  # language -> the text in that language
# language -> (label, payload) buttons, for messages that ask for a decision.
ButtonsRender = Callable[[str], list[tuple[str, str]]]


@dataclass(frozen=True)
class Words:
    """What to say, by name: jobs (which hold no texts) name a message of
    handlers/announcements.py and its arguments; the delivery renders it in each
    reader's language. `Words("text", ("status.lifted_paused",))` is a catalog key."""

    name: str
    args: tuple[object, ...] = ()
    kwargs: dict[str, object] = field(default_factory=dict)
    # With an "open in browser" button to the member's personal page, where there is one.
    browser_link: bool = False


Say = Words | Render  # handlers pass Renders; jobs pass Words
SayButtons = Words | ButtonsRender


@dataclass
class Delivered:
    """Which members a private message reached; the rest cannot be messaged privately
    (never started the bot, blocked it, or only on a platform that cannot push)."""

    reached: list[int] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)


class Delivery(Protocol):
    """How jobs speak to people, whatever platform each one is on."""

    async def to_members(self, texts: dict[int, Say]) -> Delivered:
        """A private message to each member (member id -> text)."""
        ...

    async def to_groups(self, render: Say, start_for: list[str] | None = None,
                        picture: Week | None = None) -> int:
        """Post to every registered group chat (split to fit); `start_for` names members
        to mention with a button to start a private chat with the bot; `picture`: with
        that week's results picture. Returns posts made."""
        ...

    async def to_admins(self, render: Say, buttons: SayButtons | None = None) -> None:
        ...

    async def to_account(self, platform: str, user_id: str, text: str) -> bool:
        """One chat account, member or not (a phone the member moved away from)."""
        ...
