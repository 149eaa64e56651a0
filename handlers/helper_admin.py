"""Admins register helper Instagram accounts: username, then password (deleted at once)."""

from __future__ import annotations

from handlers.context import Ctx
from handlers.events import Reply
from handlers.registry import Command, Flow
from services.helper_accounts import normalize_username

FLOW = "add_helper"


async def begin(ctx: Ctx, _args: str) -> list[Reply]:
    ctx.goto(FLOW, "username")
    return [ctx.ask("addhelper.ask_username")]


async def on_username(ctx: Ctx, text: str) -> list[Reply]:
    username = normalize_username(text)
    if username is None:
        return [ctx.ask("addhelper.bad_username", value=text.strip()[:40])]
    if await ctx.tx.helpers.exists(username):
        return [ctx.ask("addhelper.exists", username=username)]
    ctx.goto(FLOW, "password", username=username)
    replies = [ctx.ask("addhelper.ask_password", username=username)]
    if not ctx.event.deletes_messages:
        has_telegram = await ctx.tx.accounts.has_platform(ctx.who, "telegram")
        warning = "addhelper.kakao_warning_linked" if has_telegram else "addhelper.kakao_warning"
        replies.insert(0, ctx.reply(warning))
    return replies


async def on_password(ctx: Ctx, text: str) -> list[Reply]:
    if not text.strip():
        return [ctx.ask("addhelper.password_empty")]
    username = ctx.state.data["username"] if ctx.state else ""
    # Stored at once, encrypted: a password never sits in the conversation state.
    await ctx.tx.helpers.add(ctx.who.account_id, username, text.strip())
    ctx.end()
    return [ctx.reply("addhelper.saved", username=username)]


async def list_helpers(ctx: Ctx, _args: str) -> list[Reply]:
    helpers = await ctx.tx.helpers.list()
    if not helpers:
        return [ctx.reply("helpers.empty")]
    lines = [ctx.t("helpers.header", count=len(helpers))]
    lines += [
        ctx.t("helpers.line", username=name, status=ctx.t(f"helper_status.{status}"))
        for name, status in helpers
    ]
    return [Reply("\n".join(lines))]


COMMANDS = [
    Command("addhelper", begin, audience="admin", private_only=True, keywords=("헬퍼 추가",)),
    Command("helpers", list_helpers, audience="admin", keywords=("헬퍼 목록",)),
]
FLOWS = [
    Flow(
        FLOW,
        {"username": on_username, "password": on_password},
        secret_steps=frozenset({"password"}),
    )
]
