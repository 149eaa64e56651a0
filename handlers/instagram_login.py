"""The Instagram login conversation, written once for every flow that needs one (the
producer registration, the unfollow check with login, `/addhelper`): the password step,
then the 2FA or "confirm it was you" code when Instagram asks, three tries each
(services/instagram/logins.py holds the rules).

Instagram is asked after the event's transaction (a `Continue` whose answer comes back
to `answered`, under the person's lock): the flow waits in its "checking" step
meanwhile, and whatever the person sends then is not read as a password. Wrong
passwords are limited per chat account, and per Instagram account only for its owner's
attempts (services/operations/throttle.py), so the bot is no password oracle and no stranger can
lock a member out of their own account. A login waiting for its code is kept in the
conversation state, sealed (encrypted), so the code may reach any instance; an
e-mail/SMS challenge waits in the process that got the password, and a code for it that
reaches another instance says so: the person starts again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.context import Continue, Ctx
from handlers.events import Reply
from services.instagram.errors import CheckpointRequired, InstagramError
from services.instagram.gateway import LoginResult
from services.instagram.logins import (
    Answer,
    Credentials,
    LoginRules,
    Verdict,
    WaitingLogin,
    attempt,
    attempt_code,
)
from services.instagram.names import name_key

CHECKING = "checking"  # the step a flow waits in while Instagram is asked
WAITING = "waiting"  # the state's key for the sealed waiting login (never plaintext)
# Logged in: (the new transaction's ctx, the username, the login, the password that was
# accepted: "" when a code came for a login this conversation did not keep).
Done = Callable[[Ctx, str, LoginResult, str], Awaitable[list[Reply]]]
# Instagram answered (before the verdict): a flow that stores the account does it here,
# given (ctx, step, username, answer, password).
Answered = Callable[[Ctx, str, str, Answer, str], Awaitable[None]]


def owns(ctx: Ctx, username: str) -> bool:
    """Whether this chat account is the member whose Instagram account `username` is:
    only then do its wrong passwords count for that Instagram account."""
    mine = ctx.who.member_username
    return bool(mine) and name_key(mine or "") == name_key(username)


async def _member_over(ctx: Ctx, step: str, username: str, error: InstagramError
                       ) -> list[Reply]:
    if isinstance(error, CheckpointRequired) and not error.needs_code:
        return [ctx.reply("ig.user.challenge")]
    return [ctx.reply(f"ig.user.{error.code}")]


@dataclass(frozen=True)
class LoginFlow:
    """What one flow says and does around the shared login.

    `ask_code(ctx, username, error)`: the code question; `again(ctx, step, error, left)`:
    a wrong password or code, asked again; `over(ctx, step, username, error)`: the login
    ended (the flow has ended already; the hook may move it elsewhere); `done`: logged in;
    `answered`: called with every answer first (the helper flow stores the account
    there); `own`: whether the attempt counts for the Instagram account itself (default:
    the member's own)."""

    flow: str
    ask_code: Callable[[Ctx, str, InstagramError], Reply]
    done: Done
    again: Callable[[Ctx, str, InstagramError, int], Reply] = \
        lambda ctx, _step, error, _left: ctx.ask(f"ig.user.{error.code}")
    over: Callable[[Ctx, str, str, InstagramError], Awaitable[list[Reply]]] = _member_over
    answered: Answered | None = None
    own: bool | None = None

    @classmethod
    def for_member(cls, flow: str, ask_code: str, done: Done) -> LoginFlow:
        """A member's own login (producer, unfollow check): the `ig.user.*` answers."""
        return cls(flow, lambda ctx, _username, _error: ctx.ask(ask_code), done)

    def counts_for_owner(self, ctx: Ctx, username: str) -> bool:
        return owns(ctx, username) if self.own is None else self.own


async def refused(ctx: Ctx, username: str, *, own: bool | None = None) -> list[Reply]:
    """Why this login may not be tried now (too many wrong passwords).
    `own`: the attempt is the account owner's (default: this member's own account)."""
    own = owns(ctx, username) if own is None else own
    if await ctx.tx.logins.throttled(ctx.who.account_id, username, own=own):
        ctx.end()
        return [ctx.reply("login.throttled", limit=ctx.tx.logins.limit(own=own))]
    return []


def ask_password(ctx: Ctx, key: str, **values: object) -> Reply:
    """The password question, true to the platform: where the bot deletes the message
    it says so; where it cannot (KakaoTalk), the `_kept` text says that instead, once."""
    return ctx.ask(key if ctx.event.deletes_messages else f"{key}_kept", **values)


async def password_step(ctx: Ctx, login: LoginFlow, username: str, password: str
                        ) -> list[Reply]:
    """Try the password after this event's commit; then the flow goes on as Instagram
    answered (logged in, a code to ask for, ask again, or over)."""
    own = login.counts_for_owner(ctx, username)
    if no := await refused(ctx, username, own=own):
        return no
    ctx.goto(login.flow, CHECKING, after="password")
    credentials = Credentials(username, password)
    ctx.defer(Continue(attempt, (ctx.services.instagram, credentials), then=answered,
                       values={"login": login, "step": "password",
                               "credentials": credentials}))
    return [Reply(ctx.t("login.checking"), progress=True)]


async def code_step(ctx: Ctx, login: LoginFlow, username: str, code: str) -> list[Reply]:
    """Send the code after this event's commit, to the login the conversation keeps
    (sealed) or the one waiting in this process."""
    data = ctx.state.data if ctx.state else {}
    waiting = WaitingLogin.unseal(data.get(WAITING))
    ctx.goto(login.flow, CHECKING, after="code")
    credentials = Credentials(username, waiting.password if waiting is not None else "")
    ctx.defer(Continue(attempt_code, (ctx.services.instagram, username, code, waiting),
                       then=answered, values={"login": login, "step": "code",
                                              "credentials": credentials}))
    return [Reply(ctx.t("login.checking"), progress=True)]


async def answered(ctx: Ctx, answer: Answer, *, login: LoginFlow, step: str,
                   credentials: Credentials) -> list[Reply]:
    """Instagram answered the password or the code: under the person's lock, with their
    flow as it is now, the flow goes on (`credentials.password`: the one tried, or the
    one the waiting login kept; "" when it kept none)."""
    username, password = credentials.username, credentials.password
    if login.answered is not None:
        await login.answered(ctx, step, username, answer, password)
    data = ctx.state.data if ctx.state else {}
    verdict = await LoginRules(ctx.tx.logins).judge(
        ctx.who.account_id, username, answer, own=login.counts_for_owner(ctx, username),
        tries=int(data.get("tries", 0)), password=password)
    return await follow(ctx, login, step, username, verdict, password)


async def follow(ctx: Ctx, login: LoginFlow, step: str, username: str, verdict: Verdict,
                 password: str = "") -> list[Reply]:
    """Move the flow as a verdict says, with the flow's own words (`password`: the one
    Instagram accepted, for `done`)."""
    if verdict.kind == "ready" and verdict.result is not None:
        ctx.end()
        return await login.done(ctx, username, verdict.result, password)
    error = verdict.error or InstagramError("no answer")
    if verdict.kind == "code":
        ctx.goto(login.flow, "code", username=username, tries=0,
                 **{WAITING: verdict.waiting})
        return [login.ask_code(ctx, username, error)]
    if verdict.kind == "again":
        ctx.goto(login.flow, step, tries=verdict.tries)
        return [login.again(ctx, step, error, verdict.left)]
    ctx.end()
    return await login.over(ctx, step, username, error)


async def waiting(ctx: Ctx, _text: str) -> list[Reply]:
    """A message while Instagram is being asked: nothing is read from it."""
    return [ctx.ask("login.still_checking")]
