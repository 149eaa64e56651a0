"""Routes one incoming event to a command or to the user's current flow step.

An event's handling is one database transaction of the person; the flow state is saved
in it, so a restart or a second bot instance continues the conversation where it was.
Deferred work runs after it commits, and continues in a transaction of its own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from handlers import (
    accountability,
    admin,
    checks,
    core,
    helper_admin,
    open_chat,
    producers,
    unfollow,
    web_links,
    weekly,
)
from handlers import instagram_login as login
from handlers.arguments import choice_number
from handlers.context import (
    CANCEL_PAYLOAD,
    CANCEL_WORDS,
    CHOICE_FLOW,
    CONFIRM_FLOW,
    SECRET_YES_PAYLOAD,
    Ctx,
    Deferred,
    ProgressFn,
)
from handlers.events import Button, Incoming, Reply, clean_text
from handlers.i18n import t
from handlers.registry import ALL_COMMANDS, Command, Flow, visible_commands
from services.container import Services, Tx
from services.instagram_export import looks_like_export
from services.links import looks_like_link

log = logging.getLogger(__name__)


async def cancel(ctx: Ctx, _args: str) -> list[Reply]:
    services = ctx.services
    if services is not None and services.unfollow_checks.cancel(
            (ctx.event.platform, ctx.event.user_id)):
        return [ctx.reply("unfollow.cancelled_now")]  # a running check stops
    state = ctx.state
    ctx.end()
    if state is not None and state.flow in (CHOICE_FLOW, CONFIRM_FLOW) and \
            state.data.get("kept"):  # what was not done, rather than "cancelled"
        return [ctx.reply(str(state.data["kept"]), **dict(state.data.get("values") or {}))]
    return [ctx.reply("common.cancelled" if state is not None
                      else "common.nothing_to_cancel")]


async def on_choice(ctx: Ctx, text: str) -> list[Reply]:
    """A numbered list's answer: its number runs that choice's button; anything else
    shows the list again with what to type."""
    data = ctx.state.data if ctx.state is not None else {}
    buttons = [Button(str(label), str(payload)) for label, payload in data.get("buttons", [])]
    number = choice_number(text, len(buttons))
    parsed = parse_command(buttons[number - 1].payload) if number is not None else None
    if parsed is not None:
        ctx.end()
        return await Dispatcher._command(ctx, *parsed)
    hint = ctx.t("choice.type_number", last=len(buttons))
    return [Reply(f"{hint}\n\n{data.get('text', '')}".rstrip(),
                  buttons=(*buttons, ctx.cancel_button()))]


CHOICE_FLOWS = [Flow(CHOICE_FLOW, {"choose": on_choice}),
                # A confirmation only waits for its buttons; the chat goes on as usual.
                Flow(CONFIRM_FLOW, {"confirm": on_choice}, passthrough=True)]


COMMANDS: list[Command] = [
    *core.COMMANDS,
    Command("cancel", cancel, keywords=(*CANCEL_WORDS, "그만")),
    *weekly.COMMANDS,
    *admin.COMMANDS,
    *open_chat.COMMANDS,
    *helper_admin.COMMANDS,
    *checks.COMMANDS,
    *accountability.COMMANDS,
    *unfollow.COMMANDS,
    *producers.COMMANDS,
    *web_links.COMMANDS,
]
ALL_COMMANDS[:] = COMMANDS  # what /help lists
FLOWS: dict[str, Flow] = {
    flow.name: flow for flow in (*helper_admin.FLOWS, *weekly.FLOWS, *admin.FLOWS,
                                 *unfollow.FLOWS, *producers.FLOWS, *CHOICE_FLOWS)
}
# What a secret step remembers while it asks "is this your password?" (handlers/context).
SECRET_ASKED, SECRET_VERBATIM = "secret_asked", "secret_verbatim"
# The menu word a password step asked about, until the person's next event, in this
# process only (never in the database: the unfollow check keeps nothing of a login);
# another instance, or a restart, asks for it once more.
PENDING_SECRETS: dict[tuple[str, str], str] = {}
INVITE_CODE = re.compile(r"^[A-Z2-9]{8}$")
BY_NAME = {c.name: c for c in COMMANDS}
BY_KEYWORD = {k.lower(): c for c in COMMANDS for k in c.keywords}


@dataclass
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    language: str = "ko"
    audience: str = "stranger"
    # The person's audience changed (an admin claim): their command menu needs refreshing.
    menu_changed: bool = False
    # Whether the person is a member (an admin's menu lists member commands only then).
    member: bool = False
    # Work to run after the first replies are delivered (Dispatcher.finish).
    deferred: list[Deferred] = field(default_factory=list)
    # What the transport's `queue` returned: the replies as queued durably by the
    # transaction that marked the event handled (None: not queued, send them as they are).
    queued: Any = None


# Writes an outcome's replies to the outbox in the transaction that marks its event
# handled (a crash between the commit and the sending then loses no answer).
Queue = Callable[[Tx, Incoming, Outcome], Awaitable[Any]]


async def _no_progress(_text: str) -> None:
    return None


def is_cancel(text: str) -> bool:
    """The exact words that leave any flow, a password step included."""
    word = text.strip().lower()
    return word in CANCEL_WORDS or word == CANCEL_PAYLOAD or parse_command(word) == (
        "cancel", "")


def is_menu_word(text: str) -> bool:
    """A command of this bot (`/status`, `/lang en`) or exactly one of its words."""
    parsed = parse_command(text)
    if parsed is not None:
        return parsed[0] in BY_NAME
    return text.strip().lower() in BY_KEYWORD


def parse_command(text: str) -> tuple[str, str] | None:
    """`/Lang en` -> ("lang", "en"); `/cmd@somebot args` keeps only the command name."""
    text = text.strip()
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    return head.split("@", 1)[0].lower(), args.strip()


class Dispatcher:
    def __init__(self, services: Services) -> None:
        self.services = services
        # Filled in by the transports that have invite deep links (Telegram: t.me/<bot>).
        self.invite_links: dict[str, str] = {}

    async def handle(self, event: Incoming, progress: ProgressFn | None = None, *,
                     defer: bool = False, queue: Queue | None = None) -> Outcome:
        """Answer one event; a failure rolls the event back and says so in the user's language.

        Work a handler deferred (ctx.after) runs after the commit: here, with `progress`
        told how it goes, or, with `defer=True`, when the transport calls `finish` after
        it has delivered the first replies (so a progress message can be edited).
        `queue` (with a `delivery_id`) writes the replies to the outbox in the very
        transaction that marks the event handled; its result is `Outcome.queued`."""
        language, secret = event.language_hint or "ko", False
        event = replace(event, text=clean_text(event.text), user_name=clean_text(
            event.user_name or ""), payload=None if event.payload is None
            else clean_text(event.payload))
        try:
            async with self.services.transaction_of(event.platform, event.user_id) as tx:
                # Recorded as handled by this very transaction: both commit, or neither.
                if event.delivery_id is not None and not await tx.updates.take(
                        event.delivery_id, tx.now()):
                    return Outcome([], language)  # handled already: a redelivery
                who, stored = await tx.accounts.identify(
                    event.platform, event.user_id, event.user_name, event.language_hint
                )
                language = who.language
                # Held for one event only: this one, if it is the "yes" to the question.
                pending = PENDING_SECRETS.pop((event.platform, event.user_id), None)
                state = await tx.conversations.resume(event.platform, event.user_id, stored)
                known = FLOWS.get(state.flow) if state else None
                flow = known if state and not state.expired else None
                # A message in a password or code step: deleted even when the flow has
                # expired, and what was typed is never read as a command or echoed.
                secret = bool(known and state and state.step in known.secret_steps)
                typed_secret = secret and event.payload is None
                ctx = Ctx(event, who, tx, state=None if flow is None else state,
                          invite_links=self.invite_links, services=self.services)
                outcome = Outcome(language=who.language, audience=who.audience)
                text = event.payload if event.payload is not None else event.text
                if state is not None and state.expired:
                    outcome.replies.append(ctx.reply("common.expired"))
                    if self._is_command(text) and not typed_secret:
                        outcome.replies += await self._route(ctx, text, None)
                elif typed_secret and flow is not None and state is not None:
                    outcome.replies += await self._secret(ctx, flow, state.step, text)
                elif secret and flow is not None and state is not None and \
                        event.payload == SECRET_YES_PAYLOAD:
                    outcome.replies += await self._secret_confirmed(ctx, flow, state.step,
                                                                    pending)
                else:
                    outcome.replies += await self._route(ctx, text, flow)
                await self._save_state(ctx, had_state=state is not None and not state.expired)
                outcome.language, outcome.menu_changed = ctx.lang, ctx.menu_changed
                outcome.member = ctx.who.member_id is not None or ctx.joined
                outcome.audience = "admin" if ctx.menu_changed else ctx.who.audience
                if secret and outcome.replies:
                    outcome.replies[0] = replace(outcome.replies[0], delete_incoming=True)
                if queue is not None and event.delivery_id is not None:
                    outcome.queued = await queue(tx, event, outcome)
        except Exception:
            # Logged without the text: it may be a password.
            log.exception("handler failed (platform=%s user=%s)", event.platform, event.user_id)
            failed = Outcome([Reply(t(language, "common.error"), delete_incoming=secret)],
                             language)
            if event.delivery_id is not None:  # handled, if badly: never run in a loop
                await self._finish_delivery(event, event.delivery_id, failed, queue)
            return failed
        outcome.deferred = ctx.deferred
        if not defer:
            outcome.replies += await self.finish(outcome, progress)
        return outcome

    async def _finish_delivery(self, event: Incoming, delivery_id: int, failed: Outcome,
                               queue: Queue | None) -> None:
        """Mark a failed event handled, its error reply queued by the same transaction."""
        try:
            async with self.services.transaction() as tx:
                if await tx.updates.take(delivery_id, tx.now()) and queue is not None:
                    failed.queued = await queue(tx, event, failed)
        except Exception:  # the database is away: the delivery is taken up again later
            log.exception("could not mark delivery %s handled", delivery_id)
            failed.queued = None

    async def finish(self, outcome: Outcome, progress: ProgressFn | None = None) -> list[Reply]:
        """Run the event's deferred work (no transaction held meanwhile); its replies."""
        replies: list[Reply] = []
        works, outcome.deferred = outcome.deferred, []
        for work in works:
            try:
                replies += await work(progress or _no_progress)
            except Exception:
                log.exception("deferred work failed")
                replies.append(Reply(t(outcome.language, "common.error")))
        return replies

    async def _secret(self, ctx: Ctx, flow: Flow, step: str, text: str) -> list[Reply]:
        """Typed text at a password or code step. The cancel words end the flow; a
        text that is a command, exactly a menu word or a link is not tried as a password
        before its sender says it is one (a junk login would count toward the daily
        wrong-password limit); a second one after that question is what it says (the
        menu, a submission), and the flow ends."""
        data = ctx.state.data if ctx.state is not None else {}
        if step == login.CHECKING:  # Instagram is being asked: nothing is read meanwhile
            return await flow.steps[step](ctx, text)
        if is_cancel(text):
            return await cancel(ctx, "")
        asked, verbatim = data.pop(SECRET_ASKED, False), data.pop(SECRET_VERBATIM, False)
        if verbatim or not (is_menu_word(text) or looks_like_link(text)):
            return await flow.steps[step](ctx, text)
        if asked:  # a menu word again: they mean the menu, the secret step ends
            ctx.end()
            return await self._route(ctx, text, None)
        data[SECRET_ASKED] = True
        PENDING_SECRETS[(ctx.event.platform, ctx.event.user_id)] = text
        yes = Button(ctx.t("secret.is_password_yes"), SECRET_YES_PAYLOAD)
        return [ctx.ask("secret.is_password", yes)]

    async def _secret_confirmed(self, ctx: Ctx, flow: Flow, step: str,
                                pending: str | None) -> list[Reply]:
        """"Yes, that was my password": tried now, or (this process no longer holds it)
        taken as it is from the next message."""
        data = ctx.state.data if ctx.state is not None else {}
        data.pop(SECRET_ASKED, None)
        if step == login.CHECKING:
            return await flow.steps[step](ctx, "")
        if pending is None:
            data[SECRET_VERBATIM] = True
            return [ctx.ask("secret.send_again")]
        return await flow.steps[step](ctx, pending)

    @staticmethod
    def _is_command(text: str) -> bool:
        return parse_command(text) is not None or text.strip().lower() in BY_KEYWORD

    async def _route(self, ctx: Ctx, text: str, flow: Flow | None) -> list[Reply]:
        if ctx.event.attachment is not None:
            if ctx.event.chat_kind == "group":
                return []
            # Instagram's export: the unfollow check. Only admins send chat exports, so
            # anyone else's file is read as an Instagram export (and told what is wrong).
            if not ctx.who.is_admin or looks_like_export(ctx.event.attachment_name or "",
                                                         ctx.event.attachment):
                return await unfollow.from_upload(ctx)
            return await open_chat.import_upload(ctx)
        parsed = parse_command(text)
        if parsed is None and text.strip().lower() in BY_KEYWORD:
            # A word that names a command leaves the flow in progress (KakaoTalk users
            # move on with words); a password or code step never reads words (above).
            parsed = (BY_KEYWORD[text.strip().lower()].name, "")
        if parsed is not None:
            return await self._command(ctx, *parsed)
        if ctx.event.chat_kind == "group":
            return []  # in groups the bot reacts only to commands meant for it
        if flow is not None and ctx.state is not None and not flow.passthrough:
            step = flow.steps[ctx.state.step]
            return await step(ctx, text)
        if ctx.who.member_id is None:
            if INVITE_CODE.match(text.strip().upper()):  # an invite code typed on its own
                return await core.start(ctx, text.strip())
            if ctx.who.audience == "stranger":
                return [ctx.reply("stranger.how_to_join")]
            return [ctx.reply("admin.not_member" if looks_like_link(text)
                              else "common.not_understood")]
        if INVITE_CODE.match(text.strip()):  # their code again, as it was given (capitals)
            return await core.start(ctx, text.strip())
        if looks_like_link(text):  # a member simply sends a link: that is a submission
            return await weekly.submit_link(ctx, text, in_flow=False)
        return [ctx.reply("common.not_understood")]

    @staticmethod
    async def _command(ctx: Ctx, name: str, args: str) -> list[Reply]:
        command = BY_NAME.get(name)
        if f"/{name}" == SECRET_YES_PAYLOAD:  # the question of a password step gone by
            return [ctx.reply("common.expired")]
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
        if name != "cancel" and (not command.keeps_flow or Dispatcher._in_secret_step(ctx)):
            ctx.end()  # a new command leaves any flow in progress (a secret step always)
        return await command.run(ctx, args)

    @staticmethod
    def _in_secret_step(ctx: Ctx) -> bool:
        flow = FLOWS.get(ctx.state.flow) if ctx.state is not None else None
        return flow is not None and ctx.state is not None and \
            ctx.state.step in flow.secret_steps

    async def _save_state(self, ctx: Ctx, *, had_state: bool) -> None:
        conversations = ctx.tx.conversations
        if ctx.state is None:
            if had_state:
                await conversations.clear(ctx.event.platform, ctx.event.user_id)
        else:
            await conversations.save(ctx.event.platform, ctx.event.user_id, ctx.state)


def command_menu(audience: str, language: str, in_group: bool = False, member: bool = True
                 ) -> list[tuple[str, str]]:
    """(command, description) pairs for a platform's command menu (an admin who is not a
    member gets no member commands)."""
    return [
        (c.name, t(language, f"cmd.{c.name}"))
        for c in visible_commands(COMMANDS, audience, member)
        if not (in_group and c.private_only)
    ]


__all__ = ["CANCEL_PAYLOAD", "COMMANDS", "Dispatcher", "Outcome", "command_menu"]
