"""A member's own Instagram login in chat, shared by the flows that need one (the
producer registration, the unfollow check with login): the password step, then the
2FA or "confirm it was you" code when Instagram asks, three tries each.

The waiting login (the same client) is kept by the gateway between the two messages;
nothing of it goes into the conversation state.
"""

from __future__ import annotations

from typing import Any

from handlers.context import Ctx
from handlers.events import Reply
from services.instagram.errors import CheckpointRequired, InstagramError, TwoFactorRequired
from services.instagram.gateway import LoginResult

TRIES = 3


def gateway_of(ctx: Ctx) -> Any:
    instagram = ctx.services.instagram if ctx.services is not None else None
    return instagram.gateway if instagram is not None else None


async def with_password(ctx: Ctx, flow: str, ask_code: str, username: str,
                        password: str) -> LoginResult | list[Reply]:
    """The session, or the replies for the person (the code step, a retry, an end)."""
    gateway = gateway_of(ctx)
    if gateway is None:
        ctx.end()
        return [ctx.reply("ig.user.no_helper")]
    try:
        return await gateway.login(username, password)
    except (TwoFactorRequired, CheckpointRequired) as exc:
        if isinstance(exc, CheckpointRequired) and not exc.needs_code:
            ctx.end()
            return [ctx.reply("ig.user.challenge")]  # confirm in the app first
        ctx.goto(flow, "code", tries=0)
        return [ctx.ask(ask_code)]
    except InstagramError as exc:
        return failed(ctx, flow, exc, "password")


async def with_code(ctx: Ctx, flow: str, username: str, code: str
                    ) -> LoginResult | list[Reply]:
    gateway = gateway_of(ctx)
    if gateway is None:
        ctx.end()
        return [ctx.reply("ig.user.no_helper")]
    try:
        return await gateway.submit_code(username, "".join(code.split()))
    except InstagramError as exc:
        return failed(ctx, flow, exc, "code")


def failed(ctx: Ctx, flow: str, error: InstagramError, step: str) -> list[Reply]:
    """A wrong password or code asks again (three tries); anything else ends the flow."""
    data = ctx.state.data if ctx.state else {}
    if error.code in ("bad_credentials", "bad_2fa"):
        tries = int(data.get("tries", 0)) + 1
        if tries < TRIES:
            ctx.goto(flow, step, tries=tries)
            return [ctx.ask(f"ig.user.{error.code}")]
    ctx.end()
    return [ctx.reply(f"ig.user.{error.code}")]
