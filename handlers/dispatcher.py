"""Routes one incoming event to a command or to the user's current flow step.

One database transaction per event; the flow state is saved in it, so a restart or a
second bot instance continues the conversation where it was. Slow work a step asks for
(`Ctx.defer(Continue(...))`) runs after that commit (`Dispatcher.finish`), and its result
comes back to the flow the same way an event does: under the person's lock, with their
flow state loaded fresh and saved in one transaction.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from handlers import instagram_login as login
from handlers.context import (
    CANCEL_PAYLOAD,
    CANCEL_WORDS,
    SECRET_YES_PAYLOAD,
    Continue,
    Ctx,
    ProgressFn,
)
from handlers.events import Button, Incoming, Reply, clean_text
from handlers.features import build_registry
from handlers.flow_control import cancel
from handlers.i18n import t
from handlers.registry import Flow, Registry, Trigger, parse_command
from services.container import Services, Tx
from services.conversations import seal, unseal
from services.week.post_links import looks_like_link

log = logging.getLogger(__name__)


# What a secret step remembers while it asks "is this your password?" (handlers/context),
# and the menu word it asked about: sealed (encrypted) in the state until the person's
# next event only, which takes it out whatever it is, so "yes" works on any instance.
SECRET_ASKED, SECRET_VERBATIM, SECRET_PENDING = "secret_asked", "secret_verbatim", \
    "secret_pending"


@dataclass
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    language: str = "ko"
    audience: str = "stranger"
    # The person's audience changed (an admin claim): their command menu needs refreshing.
    menu_changed: bool = False
    # Whether the person is a member (an admin's menu lists member commands only then).
    member: bool = False
    # Work to run after the first replies are delivered (Dispatcher.finish), in order.
    deferred: list[Continue] = field(default_factory=list)
    # The event answered, which a continuation's result goes back to.
    event: Incoming | None = None
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


class Dispatcher:
    def __init__(self, services: Services, registry: Registry | None = None) -> None:
        self.services = services
        # What events are routed to, built once here from the handler modules.
        self.registry = registry if registry is not None else build_registry()
        # Filled in by the transports that have invite deep links (Telegram: t.me/<bot>).
        self.invite_links: dict[str, str] = {}

    async def handle(self, event: Incoming, progress: ProgressFn | None = None, *,
                     defer: bool = False, queue: Queue | None = None) -> Outcome:
        """Answer one event; a failure rolls the event back and says so in the user's language.

        Work a handler deferred (`ctx.defer`) runs after the commit: here, with `progress`
        told how it goes, or, with `defer=True`, when the transport calls `finish` after
        it has delivered the first replies (so a progress message can be edited).
        `queue` (with a `delivery_id`) writes the replies to the outbox in the very
        transaction that marks the event handled; its result is `Outcome.queued`.
        While it runs, the event is in flight: the process's checks give way to it
        (services/operations/chat_first.py)."""
        with self.services.chat_first.answering():
            return await self._handle(event, progress, defer=defer, queue=queue)

    async def _handle(self, event: Incoming, progress: ProgressFn | None, *, defer: bool,
                      queue: Queue | None) -> Outcome:
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
                state = await tx.conversations.resume(event.platform, event.user_id, stored)
                # Held for one event only: this one, if it is the "yes" to the question.
                pending = unseal(state.data.pop(SECRET_PENDING, None)) if state else None
                known = self.registry.flows.get(state.flow) if state else None
                flow = known if state and not state.expired else None
                # A message in a password or code step: deleted even when the flow has
                # expired, and what was typed is never read as a command or echoed.
                secret = bool(known and state and state.step in known.secret_steps)
                typed_secret = secret and event.payload is None
                ctx = Ctx(event, who, tx, state=None if flow is None else state,
                          invite_links=self.invite_links, services=self.services,
                          registry=self.registry)
                outcome = Outcome(language=who.language, audience=who.audience)
                text = event.payload if event.payload is not None else event.text
                if state is not None and state.expired:
                    outcome.replies.append(ctx.reply("common.expired"))
                    if self.registry.is_command(text) and not typed_secret:
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
        except Exception as exc:
            # Logged without the text: it may be a password.
            log.exception("handler failed (platform=%s user=%s)", event.platform, event.user_id)
            self.services.faults.report("handler", exc)  # the admins hear, rate-limited
            failed = Outcome([Reply(t(language, "common.error"), delete_incoming=secret)],
                             language)
            if event.delivery_id is not None:  # handled, if badly: never run in a loop
                await self._finish_delivery(event, event.delivery_id, failed, queue)
            return failed
        outcome.deferred, outcome.event = ctx.deferred, event
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
        """Run the event's deferred work (no transaction held meanwhile); its replies.
        The event is in flight meanwhile: a link's author read is a person waiting."""
        with self.services.chat_first.answering():
            return await self._finish(outcome, progress)

    async def _finish(self, outcome: Outcome, progress: ProgressFn | None) -> list[Reply]:
        works, outcome.deferred = outcome.deferred, []
        return await self._run_deferred(outcome.event, works, progress or _no_progress,
                                        outcome.language)

    async def _run_deferred(self, event: Incoming | None, works: list[Continue],
                            progress: ProgressFn, language: str) -> list[Reply]:
        """Each piece of work in turn, its replies in that order; one that fails says so
        and the rest still run."""
        replies: list[Reply] = []
        for work in works:
            try:
                replies += await self._continue(event, work, progress, language)
            except Exception as exc:
                log.exception("deferred work failed")
                self.services.faults.report("deferred work", exc)
                replies.append(Reply(t(language, "common.error")))
        return replies

    async def _continue(self, event: Incoming | None, work: Continue, progress: ProgressFn,
                        language: str) -> list[Reply]:
        """Run a continuation's call outside any transaction, then hand its result to its
        step through the normal path: the person's lock, who they are and the flow they
        are in now (a flow they started meanwhile included), one transaction, the state
        saved if the step moved it. Work the step defers in its turn runs after that."""
        kwargs = dict(work.kwargs)
        if work.progress is not None:
            kwargs["progress"] = work.progress(language, progress)
        if work.then is None:
            await work.call(*work.args, **kwargs)
            return []
        if event is None:
            raise RuntimeError("a continuation's result has no event to go back to")
        try:
            result: Any = await work.call(*work.args, **kwargs)
        except work.catch as exc:
            result = exc
        async with self.services.transaction_of(event.platform, event.user_id) as tx:
            who, stored = await tx.accounts.identify(event.platform, event.user_id, None,
                                                     event.language_hint)
            state = await tx.conversations.resume(event.platform, event.user_id, stored)
            live = None if state is None or state.expired else state
            before = copy.deepcopy(live)
            ctx = Ctx(event, who, tx, state=live, invite_links=self.invite_links,
                      services=self.services, registry=self.registry)
            replies = await work.then(ctx, result, **work.values)
            if ctx.state != before:
                await self._save_state(ctx, had_state=live is not None)
        return replies + await self._run_deferred(event, ctx.deferred, progress, ctx.lang)

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
        if verbatim or not (self.registry.is_menu_word(text) or looks_like_link(text)):
            return await flow.steps[step](ctx, text)
        if asked:  # a menu word again: they mean the menu, the secret step ends
            ctx.end()
            return await self._route(ctx, text, None)
        data[SECRET_ASKED] = True
        sealed = seal(text)  # None without ENCRYPTION_KEYS: then "yes" asks for it again
        if sealed is not None:
            data[SECRET_PENDING] = sealed
        yes = Button(ctx.t("secret.is_password_yes"), SECRET_YES_PAYLOAD)
        return [ctx.ask("secret.is_password", yes)]

    async def _secret_confirmed(self, ctx: Ctx, flow: Flow, step: str,
                                pending: str | None) -> list[Reply]:
        """"Yes, that was my password": tried now, or (it could not be kept: no
        ENCRYPTION_KEYS) taken as it is from the next message."""
        data = ctx.state.data if ctx.state is not None else {}
        data.pop(SECRET_ASKED, None)
        if step == login.CHECKING:
            return await flow.steps[step](ctx, "")
        if pending is None:
            data[SECRET_VERBATIM] = True
            return [ctx.ask("secret.send_again")]
        return await flow.steps[step](ctx, pending)

    async def _route(self, ctx: Ctx, text: str, flow: Flow | None) -> list[Reply]:
        if ctx.event.attachment is not None:
            if ctx.event.chat_kind == "group":
                return []
            return await self._triggered(ctx, self.registry.file_triggers(), text)
        parsed = parse_command(text)
        command = self.registry.keyword(text) if parsed is None else None
        if command is not None:
            # A word that names a command leaves the flow in progress (KakaoTalk users
            # move on with words); a password or code step never reads words (above).
            parsed = (command.name, "")
        if parsed is not None:
            return await self._command(ctx, *parsed)
        if ctx.event.chat_kind == "group":
            return []  # in groups the bot reacts only to commands meant for it
        if flow is not None and ctx.state is not None and not flow.passthrough:
            step = flow.steps[ctx.state.step]
            return await step(ctx, text)
        return await self._triggered(ctx, self.registry.text_triggers(), text)

    async def _triggered(self, ctx: Ctx, triggers: tuple[Trigger, ...], text: str
                         ) -> list[Reply]:
        """The first trigger that takes this content answers; someone it is not for is
        told how to join (a stranger) or that they are not a member (an admin)."""
        stranger = ctx.who.audience == "stranger"
        for trigger in triggers:
            if not trigger.matches(ctx, text):
                continue
            if trigger.allowed_for(ctx.who.audience, ctx.who.member_id is not None):
                return await trigger.run(ctx, text)
            return [ctx.reply("stranger.how_to_join" if stranger else "admin.not_member")]
        return [ctx.reply("stranger.how_to_join" if stranger else "common.not_understood")]

    async def _command(self, ctx: Ctx, name: str, args: str) -> list[Reply]:
        if f"/{name}" == SECRET_YES_PAYLOAD:  # the question of a password step gone by
            return [ctx.reply("common.expired")]
        return await self.registry.run_command(ctx, name, args)

    async def _save_state(self, ctx: Ctx, *, had_state: bool) -> None:
        conversations = ctx.tx.conversations
        if ctx.state is None:
            if had_state:
                await conversations.clear(ctx.event.platform, ctx.event.user_id)
        else:
            await conversations.save(ctx.event.platform, ctx.event.user_id, ctx.state)


__all__ = ["CANCEL_PAYLOAD", "Dispatcher", "Outcome"]
