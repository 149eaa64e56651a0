"""What a handler sees of one event: the event, who sent it, the services, the flow state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from handlers.events import Button, Incoming, Reply
from handlers.i18n import t
from handlers.registry import Registry
from services.container import Services, Tx
from services.conversations import FlowState
from services.instagram.errors import InstagramError
from services.members.chat_accounts import Identity

CANCEL_PAYLOAD = "/cancel"
# Typed, these end any flow, a password step included (any other text there is tried).
CANCEL_WORDS = ("취소", "cancel")
# The "yes, that was my password" button of a password step (handlers/dispatcher.py).
SECRET_YES_PAYLOAD = "/secret_yes"
# A numbered list waiting for its number or a button, and a confirmation waiting for its
# button (handlers/flow_control.py): their cancel says what was kept.
CHOICE_FLOW, CONFIRM_FLOW = "choice", "confirm"
# Shows how long work is going: the transport edits one message in place (Telegram),
# prints it (console) or lets it pass (KakaoTalk, which cannot edit).
ProgressFn = Callable[[str], Awaitable[None]]
# A handler step that receives a continuation's result: `(ctx, result, **values)`.
Then = Callable[..., Awaitable[list[Reply]]]
# Turns the transport's progress function into what a slow call reports its progress
# to: `(language, show) -> progress=` argument of the call.
Meter = Callable[[str, ProgressFn], Any]


@dataclass(frozen=True)
class Continue:
    """Slow work a handler step asks for, as a value (`ctx.defer(Continue(...))`).

    The dispatcher runs `call(*args, **kwargs)` after the event's transaction has
    committed (no database lock is held while Instagram answers). With `then`, the
    result (or the exception of `catch` it raised) goes back to the flow through the
    dispatcher's normal path: the person's lock, their identity and flow state loaded
    fresh, one transaction, `then(ctx, result, **values)`, the state saved if the step
    moved it, the replies delivered after the event's own. Without `then` the call's
    result is dropped (a notice to admins, a cache to forget) and any failure of it is
    logged and said. `progress` builds the call's `progress=`
    argument from the transport's progress function (a Telegram message edited in
    place, a console line, nothing on KakaoTalk)."""

    call: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    then: Then | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    progress: Meter | None = None
    catch: tuple[type[Exception], ...] = (InstagramError,)


@dataclass
class Ctx:
    event: Incoming
    who: Identity
    tx: Tx
    # The flow the user is in after this event; handlers move it with goto() / end().
    state: FlowState | None = None
    # Set when this person's audience changed (admin claimed), so menus are refreshed.
    menu_changed: bool = False
    # Set when this person became a member in this event (an admin's /addme).
    joined: bool = False
    # Invite deep links per platform, e.g. {"telegram": "https://t.me/bot?start={code}"}.
    invite_links: dict[str, str] = field(default_factory=dict)
    # What runs after the commit (handlers/dispatcher.py `finish`), in this order.
    deferred: list[Continue] = field(default_factory=list)
    # The process's services (not bound to `tx`): what a continuation's call is given.
    services: Services = field(kw_only=True)
    # The commands, flows and triggers the dispatcher routes by (/help lists them).
    registry: Registry = field(default_factory=Registry, kw_only=True)

    @property
    def lang(self) -> str:
        return self.who.language

    def t(self, key: str, **values: object) -> str:
        return t(self.lang, key, **values)

    def reply(self, key: str, *buttons: Button, **values: object) -> Reply:
        return Reply(self.t(key, **values), buttons=tuple(buttons))

    async def browser_button(self) -> Button | None:
        """"Open in browser": this member's personal web page (None: not a member, or
        the web links are not set up)."""
        web, member_id = self.services.web, self.who.member_id
        if member_id is None:
            return None
        if not web.public and self.event.platform != "console":
            return None  # a phone cannot open this machine's address (Telegram refuses it)
        url = await web.personal_url(self.tx.session, member_id, self.tx.now())
        return Button(self.t("button.open_in_browser"), "", url=url) if url else None

    def cancel_button(self) -> Button:
        return Button(self.t("common.cancel_button"), CANCEL_PAYLOAD)

    def ask(self, key: str, *buttons: Button, **values: object) -> Reply:
        """A question inside a flow: always offers the way out."""
        return Reply(self.t(key, **values), buttons=(*buttons, self.cancel_button()))

    def choices(self, text: str, buttons: list[Button], kept: str, **values: object
                ) -> Reply:
        """A numbered list (`buttons` in its order): its number typed is its button
        pressed; anything else keeps the list and says what to type; cancel says `kept`."""
        self.goto(CHOICE_FLOW, "choose", text=text, kept=kept, values=values,
                  buttons=[[b.label, b.payload] for b in buttons])
        return Reply(text, buttons=(*buttons, self.cancel_button()))

    def confirm(self, key: str, button: Button, kept: str, **values: object) -> Reply:
        """A question answered by `button` or cancel; cancel says `kept` (what was not
        done), other messages go on as usual."""
        self.goto(CONFIRM_FLOW, "confirm", kept=kept, values=values)
        return self.reply(key, button, self.cancel_button(), **values)

    def goto(self, flow: str, step: str, **data: Any) -> None:
        merged = dict(self.state.data) if self.state and self.state.flow == flow else {}
        merged.update(data)
        self.state = FlowState(flow, step, merged)

    def end(self) -> None:
        self.state = None

    def defer(self, continuation: Continue) -> None:
        """Run `continuation` once this event's transaction has committed; its replies
        follow this event's own, in the order deferred."""
        self.deferred.append(continuation)
