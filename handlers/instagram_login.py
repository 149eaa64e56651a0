"""A member's own Instagram login in chat, shared by the flows that need one (the
producer registration, the unfollow check with login): the password step, then the
2FA or "confirm it was you" code when Instagram asks, three tries each.

Instagram is asked after the event's transaction (`Ctx.continue_after`): the flow
waits in its "checking" step meanwhile, and whatever the person sends then is not
read as a password. Wrong passwords are limited per chat account, and per Instagram
account only for its owner's attempts (services/throttle.py), so the bot is no password
oracle and no stranger can lock a member out of their own account. The waiting login
(the same client) is kept by the gateway between the two messages; nothing of it goes
into the conversation state. A code that reaches an instance which does not hold the
waiting login says so, and the person starts again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from handlers.context import Ctx
from handlers.events import Reply
from services.instagram.errors import CheckpointRequired, InstagramError, TwoFactorRequired
from services.instagram.gateway import LoginResult
from services.instagram.names import name_key

TRIES = 3
CHECKING = "checking"  # the step a flow waits in while Instagram is asked
Done = Callable[[Ctx, LoginResult], Awaitable[list[Reply]]]


def gateway_of(ctx: Ctx) -> Any:
    instagram = ctx.services.instagram
    return instagram.gateway if instagram is not None else None


def owns(ctx: Ctx, username: str) -> bool:
    """Whether this chat account is the member whose Instagram account `username` is:
    only then do its wrong passwords count for that Instagram account."""
    mine = ctx.who.member_username
    return bool(mine) and name_key(mine or "") == name_key(username)


async def refused(ctx: Ctx, username: str, *, own: bool | None = None) -> list[Reply]:
    """Why this login may not be tried now (no Instagram, too many wrong passwords).
    `own`: the attempt is the account owner's (default: this member's own account)."""
    if gateway_of(ctx) is None:
        ctx.end()
        return [ctx.reply("ig.user.no_helper")]
    own = owns(ctx, username) if own is None else own
    if await ctx.tx.logins.throttled(ctx.who.account_id, username, own=own):
        ctx.end()
        return [ctx.reply("login.throttled", limit=ctx.tx.logins.limit(own=own))]
    return []


def ask_password(ctx: Ctx, key: str, **values: object) -> Reply:
    """The password question, true to the platform: where the bot deletes the message
    it says so; where it cannot (KakaoTalk), the `_kept` text says that instead, once."""
    return ctx.ask(key if ctx.event.deletes_messages else f"{key}_kept", **values)


async def password_step(ctx: Ctx, flow: str, ask_code: str, username: str, password: str,
                        done: Done, forget: Callable[[], None] | None = None
                        ) -> list[Reply]:
    """Try the password; `done` continues with the session, else the flow asks again,
    asks for the code, or ends (then `forget` drops what the flow kept in memory)."""
    if no := await refused(ctx, username):
        return no
    gateway = gateway_of(ctx)
    ctx.goto(flow, CHECKING, after="password")

    async def then(fresh: Ctx, result: LoginResult | InstagramError) -> list[Reply]:
        if isinstance(result, LoginResult):
            return await done(fresh, result)
        if isinstance(result, TwoFactorRequired | CheckpointRequired):
            if isinstance(result, CheckpointRequired) and not result.needs_code:
                return _end(fresh, forget, [fresh.reply("ig.user.challenge")])
            fresh.goto(flow, "code", tries=0)
            return [fresh.ask(ask_code)]
        return await failed(fresh, flow, result, "password", username, forget)

    ctx.continue_after(lambda: gateway.login(username, password), then)
    return [Reply(ctx.t("login.checking"), progress=True)]


async def code_step(ctx: Ctx, flow: str, username: str, code: str, done: Done,
                    forget: Callable[[], None] | None = None) -> list[Reply]:
    gateway = gateway_of(ctx)
    if gateway is None:
        return _end(ctx, forget, [ctx.reply("ig.user.no_helper")])
    ctx.goto(flow, CHECKING, after="code")

    async def then(fresh: Ctx, result: LoginResult | InstagramError) -> list[Reply]:
        if isinstance(result, LoginResult):
            return await done(fresh, result)
        return await failed(fresh, flow, result, "code", username, forget)

    ctx.continue_after(lambda: gateway.submit_code(username, "".join(code.split())), then)
    return [Reply(ctx.t("login.checking"), progress=True)]


async def waiting(ctx: Ctx, _text: str) -> list[Reply]:
    """A message while Instagram is being asked: nothing is read from it."""
    return [ctx.ask("login.still_checking")]


async def failed(ctx: Ctx, flow: str, error: InstagramError, step: str, username: str,
                 forget: Callable[[], None] | None = None) -> list[Reply]:
    """A wrong password or code asks again (three tries, within the daily limit);
    anything else ends the flow."""
    data = ctx.state.data if ctx.state else {}
    if error.code in ("bad_credentials", "bad_2fa"):
        own = owns(ctx, username)
        if error.code == "bad_credentials":
            await ctx.tx.logins.failed(ctx.who.account_id, username, own=own)
        tries = int(data.get("tries", 0)) + 1
        if tries < TRIES and not await ctx.tx.logins.throttled(ctx.who.account_id, username,
                                                                own=own):
            ctx.goto(flow, step, tries=tries)
            return [ctx.ask(f"ig.user.{error.code}")]
    return _end(ctx, forget, [ctx.reply(f"ig.user.{error.code}")])


def _end(ctx: Ctx, forget: Callable[[], None] | None, replies: list[Reply]) -> list[Reply]:
    ctx.end()
    if forget is not None:
        forget()
    return replies
