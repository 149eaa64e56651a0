"""Commands and flows as data: the dispatcher routes by them, /help and menus list them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from handlers.context import Ctx
from handlers.events import Reply

Audience = Literal["everyone", "member", "admin"]
CommandHandler = Callable[[Ctx, str], Awaitable[list[Reply]]]
StepHandler = Callable[[Ctx, str], Awaitable[list[Reply]]]

# Who may use what: an admin may use everything, a member the member and public commands.
RANK = {"stranger": 0, "member": 1, "admin": 2}
NEEDS = {"everyone": 0, "member": 1, "admin": 2}


@dataclass(frozen=True)
class Command:
    name: str
    run: CommandHandler
    audience: Audience = "everyone"
    # Plain-language words that mean this command (KakaoTalk users rarely type slashes).
    keywords: tuple[str, ...] = ()
    # Refused in group chats (it asks for a password, or is personal).
    private_only: bool = False
    in_menu: bool = True
    # Runs inside the flow in progress instead of ending it (a button of that flow).
    keeps_flow: bool = False
    # A member command that also serves an admin who is not a member (/results).
    admins_too: bool = False

    def allowed_for(self, audience: str) -> bool:
        return RANK[audience] >= NEEDS[self.audience]


@dataclass(frozen=True)
class Flow:
    """A multi-step conversation: named steps, each handling the user's next input."""

    name: str
    steps: dict[str, StepHandler]
    # Steps whose input is a password: the message is deleted and never logged.
    secret_steps: frozenset[str] = field(default_factory=frozenset)
    # A flow that only remembers something for its buttons: text is routed as usual.
    passthrough: bool = False


# Every command, as the dispatcher assembles them from the handler modules (it fills
# this once at import): /help lists them without importing the dispatcher, which
# imports every handler module.
ALL_COMMANDS: list[Command] = []


def visible_commands(commands: list[Command], audience: str, member: bool = True
                     ) -> list[Command]:
    """What a person's help lists: an admin who is not a member sees no member commands."""
    return [c for c in commands if c.in_menu and c.allowed_for(audience)
            and (member or c.audience != "member" or c.admins_too)]
