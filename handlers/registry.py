"""Commands, flows and content triggers as data: the dispatcher routes by the one
`Registry` that `handlers.features.build_registry` assembles from the handler modules;
/help and the command menus list it.

The dispatcher knows no feature: a command declares who may use it and where, a flow
what its `/cancel` says, a trigger which content (a file, an invite code, a link) it
takes when no command or flow step did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from handlers.events import Reply
from handlers.i18n import t

if TYPE_CHECKING:
    from handlers.context import Ctx
    from services.conversations import FlowState

Audience = Literal["everyone", "member", "admin"]
CommandHandler = Callable[["Ctx", str], Awaitable[list[Reply]]]
StepHandler = Callable[["Ctx", str], Awaitable[list[Reply]]]
# What `/cancel` says for a flow it leaves (the flow's state as it was): None for the
# plain "cancelled".
CancelHook = Callable[["Ctx", "FlowState"], Awaitable[list[Reply] | None]]
# Work a person started that runs outside any flow (an unfollow check with login):
# `/cancel` stops it first, and says so (None: nothing of theirs was running).
StopHook = Callable[["Ctx"], Awaitable[list[Reply] | None]]
# Whether a trigger takes this event's content (the text, or the attached file).
Matcher = Callable[["Ctx", str], bool]

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
    # Reads the flow it leaves before ending it (/cancel): never ended for it beforehand.
    ends_flow_itself: bool = False

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
    # What `/cancel` says when it leaves this flow (None: "cancelled").
    on_cancel: CancelHook | None = None


@dataclass(frozen=True)
class Trigger:
    """Content that means something without a command: a file sent to the bot, or text
    (an invite code, a post link) sent outside any flow step. Tried in the registry's
    order; the first that matches answers. Someone below its audience is told how to
    join (a stranger) or that they are not a member (an admin who is not one)."""

    name: str
    content: Literal["file", "text"]
    matches: Matcher
    run: StepHandler
    audience: Audience = "everyone"

    def allowed_for(self, audience: str, member: bool) -> bool:
        return RANK[audience] >= NEEDS[self.audience] and (
            member or self.audience != "member")


@dataclass(frozen=True)
class Registry:
    """Everything the dispatcher routes to, in routing order."""

    commands: tuple[Command, ...] = ()
    flows: Mapping[str, Flow] = field(default_factory=lambda: MappingProxyType({}))
    triggers: tuple[Trigger, ...] = ()
    stops: tuple[StopHook, ...] = ()
    by_name: Mapping[str, Command] = field(init=False, repr=False)
    by_keyword: Mapping[str, Command] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.commands]
        words = [k.lower() for c in self.commands for k in c.keywords]
        for what, listed in (("command", names), ("keyword", words)):
            twice = sorted({name for name in listed if listed.count(name) > 1})
            if twice:  # which one an event meant would depend on the order
                raise ValueError(f"{what}s registered twice: {twice}")
        object.__setattr__(self, "flows", MappingProxyType(dict(self.flows)))
        object.__setattr__(self, "by_name", MappingProxyType({c.name: c for c in self.commands}))
        object.__setattr__(self, "by_keyword", MappingProxyType(
            {k.lower(): c for c in self.commands for k in c.keywords}))

    @classmethod
    def of(cls, commands: list[Command], flows: list[Flow], triggers: list[Trigger],
           stops: list[StopHook]) -> Registry:
        return cls(tuple(commands), {flow.name: flow for flow in flows}, tuple(triggers),
                   tuple(stops))

    def keyword(self, text: str) -> Command | None:
        """The command a plain word names (`내 현황`), whatever its case."""
        return self.by_keyword.get(text.strip().lower())

    def is_menu_word(self, text: str) -> bool:
        """A command of this bot (`/status`, `/lang en`) or exactly one of its words."""
        parsed = parse_command(text)
        if parsed is not None:
            return parsed[0] in self.by_name
        return self.keyword(text) is not None

    def is_command(self, text: str) -> bool:
        """Any slash command (this bot's or not) or exactly one of this bot's words."""
        return parse_command(text) is not None or self.keyword(text) is not None

    def in_secret_step(self, state: FlowState | None) -> bool:
        flow = self.flows.get(state.flow) if state is not None else None
        return flow is not None and state is not None and state.step in flow.secret_steps

    def file_triggers(self) -> tuple[Trigger, ...]:
        return tuple(trigger for trigger in self.triggers if trigger.content == "file")

    def text_triggers(self) -> tuple[Trigger, ...]:
        return tuple(trigger for trigger in self.triggers if trigger.content == "text")

    def visible(self, audience: str, member: bool = True) -> list[Command]:
        """What a person's help lists: an admin who is not a member sees no member commands."""
        return [c for c in self.commands if c.in_menu and c.allowed_for(audience)
                and (member or c.audience != "member" or c.admins_too)]

    def menu(self, audience: str, language: str, in_group: bool = False, member: bool = True
             ) -> list[tuple[str, str]]:
        """(command, description) pairs for a platform's command menu (an admin who is not
        a member gets no member commands)."""
        return [(c.name, t(language, f"cmd.{c.name}"))
                for c in self.visible(audience, member)
                if not (in_group and c.private_only)]

    async def run_command(self, ctx: Ctx, name: str, args: str) -> list[Reply]:
        """Run a command by name, with what it declares checked: who may use it, where,
        and whether it leaves the flow in progress."""
        command = self.by_name.get(name)
        if command is None:
            if ctx.event.chat_kind == "group":
                return []  # another bot's command, most likely
            return [ctx.reply("common.unknown_command", command=f"/{name}")]
        if not command.allowed_for(ctx.who.audience):
            if command.audience == "admin":
                await ctx.tx.audit.add(ctx.who.account_id, "refused", target=f"/{name}")
                return [ctx.reply("common.not_admin")]
            return [ctx.reply("common.members_only")]
        if command.private_only and ctx.event.chat_kind != "private":
            return [ctx.reply("common.private_only")]
        if command.audience == "member" and ctx.who.member_id is None and \
                not command.admins_too:
            return [ctx.reply("admin.not_member")]  # an admin who is not a member (yet)
        if not command.ends_flow_itself and (
                not command.keeps_flow or self.in_secret_step(ctx.state)):
            ctx.end()  # a new command leaves any flow in progress (a secret step always)
        return await command.run(ctx, args)


def parse_command(text: str) -> tuple[str, str] | None:
    """`/Lang en` -> ("lang", "en"); `/cmd@somebot args` keeps only the command name."""
    text = text.strip()
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    return head.split("@", 1)[0].lower(), args.strip()
