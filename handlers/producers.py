"""Members register as consumers (their new posts get automatic comments) or producers
(their account writes them); admins approve both and see the monthly usage."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from handlers import instagram_login as login
from handlers.arguments import month as month_of
from handlers.arguments import whole_number
from handlers.context import Continue, Ctx
from handlers.events import Button, Reply
from handlers.i18n import t
from handlers.registry import Command, Flow
from services.automation.registrations import look_at_consumer
from services.container import Services
from services.instagram.errors import InstagramError, NotFound, PrivateProfile
from services.instagram.gateway import LoginResult
from services.instagram.helper_accounts import secrets_storable
from services.instagram.names import normalize_username
from services.messaging.notifier import Render

CONSUMER_FLOW = "consumer"
PRODUCER_FLOW = "producer"
# What /approve takes for a kind: its name, in English (the buttons') or Korean.
KINDS = {"consumer": "consumer", "producer": "producer", "소비자": "consumer",
         "생산자": "producer"}


async def _request_approval(services: Services, render: Render, kind: str,
                            row_id: int) -> None:
    """The admins hear of a new consumer or producer, with its Approve button."""
    await services.delivery.to_admins(render, partial(_approve_button, kind, row_id))


def _approve_button(kind: str, row_id: int, lang: str) -> list[tuple[str, str]]:
    return [(t(lang, "approve.button", id=row_id), f"/approve {kind} {row_id}")]


def _for_admins(kind: str, row_id: int, username: str, member: str, lang: str) -> str:
    return t(lang, f"{kind}.admins", id=row_id, username=username, member=member)


def _ask_admins(ctx: Ctx, kind: str, row_id: int, username: str) -> None:
    """After the commit, the admins are asked to approve the new consumer or producer."""
    render = partial(_for_admins, kind, row_id, username, ctx.who.member_username or "")
    ctx.defer(Continue(_request_approval, (ctx.services, render, kind, row_id)))


async def _switch(ctx: Ctx, kind: str, word: str) -> list[Reply]:
    if ctx.who.member_id is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    status = await ctx.tx.producers.switch(kind, ctx.who.member_id, word == "on")
    if status is None:
        return [ctx.reply(f"{kind}.none")]
    return [ctx.reply(f"{kind}.switched.{status}")]


# --- consumers ---------------------------------------------------------------------------


async def consumer(ctx: Ctx, args: str) -> list[Reply]:
    word = args.strip().lower()
    if word in ("on", "off", "켜기", "끄기"):
        return await _switch(ctx, "consumer", "on" if word in ("on", "켜기") else "off")
    if word:
        return await on_consumer_username(ctx, word)
    ctx.goto(CONSUMER_FLOW, "username")
    return [ctx.ask("consumer.ask_username")]


async def _username_step(ctx: Ctx, kind: str, text: str) -> str | list[Reply]:
    """The consumer's and the producer's username step: the account's name, or what is
    wrong with it (not a username, not a member, another member's account)."""
    username = normalize_username(text)
    if username is None:
        return [ctx.ask("addhelper.bad_username", value=text.strip()[:40])]
    if ctx.who.member_id is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    if await ctx.tx.producers.username_taken(kind, username, ctx.who.member_id):
        ctx.end()
        return [ctx.reply(f"{kind}.taken", username=username)]
    return username


async def on_consumer_username(ctx: Ctx, text: str) -> list[Reply]:
    """Checked to exist and be public through a helper, after this event's commit."""
    username = await _username_step(ctx, "consumer", text)
    if not isinstance(username, str):
        return username
    ctx.end()
    await ctx.tx.helpers.load_pool()  # helpers another instance added read too
    ctx.defer(Continue(look_at_consumer, (ctx.services.instagram, username),
                       then=_consumer_looked, values={"username": username}))
    return [ctx.reply("consumer.checking", username=username)]


async def _consumer_looked(ctx: Ctx, pk: str | InstagramError, *, username: str
                           ) -> list[Reply]:
    """Instagram showed the account (its pk) or why it cannot be a consumer: registered,
    under the member's lock, and the admins asked to approve it."""
    if isinstance(pk, NotFound):
        return [ctx.reply("consumer.not_found", username=username)]
    if isinstance(pk, PrivateProfile):
        return [ctx.reply("consumer.private", username=username)]
    if isinstance(pk, InstagramError):
        return [ctx.reply("consumer.cannot_check", username=username,
                          reason=ctx.t(f"ig.user.{pk.code}"))]
    if ctx.who.member_id is None:  # no longer a member meanwhile
        return [ctx.reply("admin.not_member")]
    row = await ctx.tx.producers.register_consumer(ctx.who.member_id, username, pk)
    _ask_admins(ctx, "consumer", row.id, username)
    return [ctx.reply("consumer.pending", username=username)]


# --- producers ---------------------------------------------------------------------------


async def producer(ctx: Ctx, args: str) -> list[Reply]:
    word = args.strip().lower()
    if word in ("on", "off", "켜기", "끄기"):
        return await _switch(ctx, "producer", "on" if word in ("on", "켜기") else "off")
    if not secrets_storable():
        return [ctx.reply("secrets.no_key")]
    ctx.goto(PRODUCER_FLOW, "username")
    return [ctx.ask("producer.ask_username")]


async def on_producer_username(ctx: Ctx, text: str) -> list[Reply]:
    username = await _username_step(ctx, "producer", text)
    if not isinstance(username, str):
        return username
    ctx.goto(PRODUCER_FLOW, "password", username=username, tries=0)
    return [login.ask_password(ctx, "producer.ask_password", username=username)]


async def on_producer_password(ctx: Ctx, text: str) -> list[Reply]:
    username = str((ctx.state.data if ctx.state else {}).get("username", ""))
    return await login.password_step(ctx, PRODUCER_LOGIN, username, text.strip())


async def on_producer_code(ctx: Ctx, text: str) -> list[Reply]:
    """The code may reach any instance: the conversation keeps the waiting login
    (with the password, to store once the code is accepted) sealed."""
    username = str((ctx.state.data if ctx.state else {}).get("username", ""))
    return await login.code_step(ctx, PRODUCER_LOGIN, username, text)


async def _registered(ctx: Ctx, username: str, result: LoginResult, password: str
                      ) -> list[Reply]:
    if ctx.who.member_id is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    if not password:  # a code for a login this conversation did not keep
        return [ctx.reply("ig.user.login_lost")]
    row = await ctx.tx.producers.register_producer(ctx.who.member_id, username, password,
                                                   result.session, result.pk)
    ctx.end()
    if row.status == "pending":
        _ask_admins(ctx, "producer", row.id, username)
    return [ctx.reply("producer.pending" if row.status == "pending"
                      else "producer.switched.active", username=username)]


PRODUCER_LOGIN = login.LoginFlow.for_member(PRODUCER_FLOW, "producer.ask_code", _registered)


# --- admins ------------------------------------------------------------------------------


async def approve(ctx: Ctx, args: str) -> list[Reply]:
    parts = args.split()
    if not parts:  # the requests waiting, each with its button
        waiting = await ctx.tx.producers.waiting()
        if not waiting:
            return [ctx.reply("approve.none")]
        lines = [ctx.t("approve.header", count=len(waiting))]
        lines += [ctx.t("approve.line", kind=ctx.t(f"approve.kind.{kind}"), id=row_id,
                        username=name) for kind, row_id, name in waiting]
        buttons = tuple(Button(ctx.t("approve.button", id=row_id), f"/approve {kind} {row_id}")
                        for kind, row_id, _ in waiting[:10])
        return [Reply("\n".join(lines), buttons=buttons)]
    row_number = whole_number(parts[1]) if len(parts) == 2 else None
    kind = KINDS.get(parts[0].lower(), "")
    if row_number is None or not kind:
        return [ctx.reply("approve.usage")]
    row_id = row_number
    approved = await ctx.tx.producers.approve(ctx.who.account_id, kind, row_id, ctx.tx.now())
    if approved is None:
        return [ctx.reply("approve.unknown", kind=ctx.t(f"approve.kind.{kind}"), id=row_id)]
    member_id, username = approved
    ctx.defer(Continue(_tell_approved, (ctx.services, member_id, kind, username)))
    return [ctx.reply("approve.done", kind=ctx.t(f"approve.kind.{kind}"), username=username)]


async def _tell_approved(services: Services, member_id: int, kind: str,
                         username: str) -> None:
    """The member hears that an admin approved their consumer or producer account."""
    await services.delivery.to_members({member_id: partial(_approved_text, kind, username)})


def _approved_text(kind: str, username: str, lang: str) -> str:
    return t(lang, f"{kind}.approved", username=username)


async def usage(ctx: Ctx, args: str) -> list[Reply]:
    zone = ctx.tx.rules.timezone
    local = ctx.tx.now().astimezone(zone)
    year, month = local.year, local.month
    if args.strip():
        found = month_of(args)
        if found is None:
            return [ctx.reply("usage.bad_month")]
        year, month = found
    start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone).astimezone(UTC)
    label = f"{year}-{month:02d}"
    rows = await ctx.tx.producers.usage(start, end)
    if not rows:
        return [ctx.reply("usage.none", month=label)]
    lines = [ctx.t("usage.header", month=label)]
    lines += [ctx.t("usage.line", username=name, count=count) for name, count in rows]
    return [Reply("\n".join(lines))]


COMMANDS = [
    Command("consumer", consumer, audience="member", private_only=True,
            keywords=("자동 댓글 받기",)),
    Command("producer", producer, audience="member", private_only=True,
            keywords=("댓글 계정 빌려주기",)),
    Command("approve", approve, audience="admin"),
    Command("usage", usage, audience="admin"),
]
FLOWS = [
    Flow(CONSUMER_FLOW, {"username": on_consumer_username}),
    Flow(PRODUCER_FLOW, {"username": on_producer_username, "password": on_producer_password,
                         "code": on_producer_code, login.CHECKING: login.waiting},
         secret_steps=frozenset({"password", "code", login.CHECKING})),
]
