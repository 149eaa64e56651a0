"""Admin commands: members and invites, groups, the notice, the week, the audit log."""

from __future__ import annotations

from datetime import timedelta

from handlers import formatting
from handlers.arguments import whole_number
from handlers.context import Continue, Ctx
from handlers.events import Button, Reply
from handlers.i18n import CATALOGS, DEFAULT_LANGUAGE
from handlers.registry import Command, Flow
from services.community import NOTICE_MAX
from services.instagram.gateway import Profile
from services.instagram.names import as_typed, normalize_username
from services.instagram.runtime import Instagram
from services.members.roster import Added, AddResult, AuditActor, look_up_names
from services.web.board_cache import WeekVersions
from services.week.calendar import Week

NOTICE_FLOW = "set_notice"


def _this_week(ctx: Ctx) -> Week:
    return Week.containing(ctx.tx.now(), ctx.tx.rules.timezone)


async def add_user(ctx: Ctx, args: str) -> list[Reply]:
    """Members by Instagram name, each with an invite. When a helper is free at once,
    Instagram is asked first (after this event's transaction) who has each new name:
    an account that is a member's already (renamed) and a name nobody has are refused,
    and a new member's pk is stored at once; with none free, names are added as typed."""
    names = args.replace(",", " ").split()
    if not names:
        return [ctx.reply("adduser.usage")]
    instagram = ctx.services.instagram
    if instagram.pool.free_now():
        unknown = await ctx.tx.members.to_look_up(names)
        if unknown:
            return _add_after_looking(ctx, names, unknown, instagram)
    return _added(ctx, await ctx.tx.members.add(ctx.who.account_id, names))


def _add_after_looking(ctx: Ctx, names: list[str], unknown: list[str],
                       instagram: Instagram) -> list[Reply]:
    ctx.defer(Continue(look_up_names, (instagram, unknown), then=_add_looked,
                       values={"names": names}, catch=()))
    return [Reply(ctx.t("adduser.checking", count=len(unknown)), progress=True)]


async def _add_looked(ctx: Ctx, looked: dict[str, Profile | None], *, names: list[str]
                      ) -> list[Reply]:
    """Instagram said who has the new names: the members are added now."""
    return _added(ctx, await ctx.tx.members.add(ctx.who.account_id, names, looked))


def _added(ctx: Ctx, results: list[Added]) -> list[Reply]:
    lines = []
    for added in results:
        if added.result is AddResult.INVALID:
            lines.append(ctx.t("adduser.invalid", value=added.username[:40]))
            continue
        lines.append(ctx.t(f"adduser.{added.result.value}", username=added.username,
                           code=added.code, current=added.current))
        if added.code is None:
            continue
        for platform, template in sorted(ctx.invite_links.items()):
            lines.append(ctx.t("adduser.link", platform=platform,
                               link=template.format(code=added.code)))
    if any(added.code for added in results):  # "tap the link above" only where links were printed
        lines.append(ctx.t("adduser.footer" if ctx.invite_links else "adduser.footer_no_links"))
    return [Reply("\n".join(lines))]


async def add_me(ctx: Ctx, args: str) -> list[Reply]:
    """An admin joins the exchange as a member in one step: the member is made and this
    chat account linked to it at once."""
    if ctx.who.member_id is not None:
        return [ctx.reply("addme.already", username=ctx.who.member_username or "")]
    names = args.split()
    if len(names) != 1:
        return [ctx.reply("addme.usage")]
    (added,) = await ctx.tx.members.add(ctx.who.account_id, names, invite_existing=True)
    if added.result is AddResult.RENAMED:
        return [ctx.reply("adduser.renamed", username=added.username, current=added.current)]
    if added.result is AddResult.INVALID or added.code is None:
        return [ctx.reply("adduser.invalid", value=names[0][:40])]
    accepted = await ctx.tx.invites.accept(ctx.who.account_id, added.code)
    username = accepted.username
    if username is None or accepted.result.value != "linked":
        return [ctx.reply(f"invite.{accepted.result.value}", username=username or "")]
    ctx.menu_changed = ctx.joined = True
    return [ctx.reply("addme.done", username=username)]


async def relink(ctx: Ctx, args: str) -> list[Reply]:
    """A member changed phones: a code that moves them to the new chat account (history
    kept; the old account lets go and is told)."""
    username = normalize_username(args.split()[0]) if args.split() else None
    if username is None:
        return [ctx.reply("relink.usage")]
    member_id = (await ctx.tx.members.ids_by_username([username])).get(username)
    if member_id is None:
        return [ctx.reply("admin.no_member", username=username)]
    code = await ctx.tx.invites.create(member_id, moves_account=True)
    await ctx.tx.audit.add(ctx.who.account_id, "relink_created", target=username)
    lines = [ctx.t("relink.done", username=username, code=code)]
    lines += [ctx.t("adduser.link", platform=platform, link=template.format(code=code))
              for platform, template in sorted(ctx.invite_links.items())]
    return [Reply("\n".join(lines))]


async def del_user(ctx: Ctx, args: str) -> list[Reply]:
    parts = args.split()
    if not parts:
        return [ctx.reply("deluser.usage")]
    username = normalize_username(parts[0])
    if username is None or not await ctx.tx.members.ids_by_username([username]):
        return [ctx.reply("deluser.not_found", username=as_typed(parts[0])[:40])]
    if len(parts) < 2 or parts[1] != "confirm":
        confirm = Button(ctx.t("deluser.confirm_button"), f"/deluser {parts[0]} confirm"[:64])
        return [ctx.confirm("deluser.confirm", confirm, "deluser.kept",
                            username=as_typed(parts[0]))]
    removed = await ctx.tx.members.remove(ctx.who.account_id, parts[0])
    if removed is None:
        return [ctx.reply("deluser.not_found", username=as_typed(parts[0]))]
    ctx.defer(Continue(_forget_boards, (ctx.services.week_versions,)))
    return [ctx.reply("deluser.removed", username=removed)]


async def _forget_boards(versions: WeekVersions) -> None:
    """After a removal's commit: no board shows the member from memory."""
    versions.bump_all()


async def users(ctx: Ctx, args: str) -> list[Reply]:
    if args.strip() and whole_number(args) is None:
        return [ctx.reply("users.usage")]
    page = whole_number(args) or 1
    rows, pages = await ctx.tx.members.page(page, _this_week(ctx).start)
    page = min(max(page, 1), pages)
    if not rows:
        return [ctx.reply("users.empty")]
    lines = [ctx.t("users.header", page=page, pages=pages)]
    for row in rows:
        linked = ", ".join(row.platforms) or ctx.t("users.not_linked")
        name = f" ({row.display_name})" if row.display_name else ""
        state = "" if row.status == "active" else f" [{ctx.t(f'member_status.{row.status}')}]"
        lines.append(ctx.t("users.line", username=row.username, name=name, linked=linked,
                           submitted=row.submitted, maximum=ctx.tx.rules.weekly_max_posts,
                           state=state))
    buttons = []
    if page > 1:
        buttons.append(Button(ctx.t("button.previous"), f"/users {page - 1}"))
    if page < pages:
        buttons.append(Button(ctx.t("button.next"), f"/users {page + 1}"))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def admins(ctx: Ctx, _args: str) -> list[Reply]:
    lines = [ctx.t("admins.header")]
    for row in await ctx.tx.members.admins():
        where = f"{row.platform} · {row.display_name}" if row.claimed else ctx.t("admins.unclaimed")
        lines.append(f"• {row.name} — {where}")
    return [Reply("\n".join(lines))]


async def set_group(ctx: Ctx, _args: str) -> list[Reply]:
    if ctx.event.chat_kind != "group":
        return [ctx.reply("setgroup.not_group")]
    added = await ctx.tx.community.set_group(
        ctx.who.account_id, ctx.event.platform, ctx.event.chat_id, ctx.event.chat_title
    )
    return [ctx.reply("setgroup.done" if added else "setgroup.already")]


async def unset_group(ctx: Ctx, _args: str) -> list[Reply]:
    if ctx.event.chat_kind != "group":
        return [ctx.reply("setgroup.not_group")]
    removed = await ctx.tx.community.unset_group(
        ctx.who.account_id, ctx.event.platform, ctx.event.chat_id
    )
    return [ctx.reply("unsetgroup.done" if removed else "unsetgroup.not_set")]


async def set_notice(ctx: Ctx, args: str) -> list[Reply]:
    if args.strip():
        return await _store_notice(ctx, args)
    ctx.goto(NOTICE_FLOW, "text")
    return [ctx.ask("setnotice.ask")]


async def on_notice_text(ctx: Ctx, text: str) -> list[Reply]:
    if not text.strip():
        return [ctx.ask("setnotice.ask")]
    return await _store_notice(ctx, text)


async def _store_notice(ctx: Ctx, text: str) -> list[Reply]:
    if len(text.strip()) > NOTICE_MAX:
        return [ctx.ask("setnotice.too_long", limit=NOTICE_MAX, length=len(text.strip()))]
    notice = await ctx.tx.community.set_notice(ctx.who.account_id, text)
    ctx.end()
    key = "setnotice.done_with_qr" if notice.qr_image else "setnotice.done"
    if notice.open_chat_url and not notice.qr_image:
        key = "setnotice.done_no_qr"
    web = ctx.services.web
    qr_url = web.notice_qr_url(notice.qr_image) \
        if notice.qr_image and web.public else None
    return [Reply(ctx.t(key) + "\n\n" + notice.text, image=notice.qr_image, image_url=qr_url)]


async def week(ctx: Ctx, _args: str) -> list[Reply]:
    this_week = _this_week(ctx)
    overview = await ctx.tx.members.week_overview(this_week.start)
    lines = [ctx.t("week.header", week=formatting.week(this_week, ctx.lang))]
    total = 0
    for username, urls in overview:
        total += len(urls)
        lines.append(ctx.t("week.member", username=username, count=len(urls),
                           maximum=ctx.tx.rules.weekly_max_posts))
        lines += [f"   {url}" for url in urls]
    lines.append(ctx.t("week.total", posts=total, members=len(overview)))
    return [Reply("\n".join(lines))]


# Actions recorded under an older, misspelt name: shown as what they were.
OLD_ACTIONS = {"member_unsuspendd": "member_unsuspended"}


def _action(ctx: Ctx, action: str) -> str:
    """An audit entry's action in plain words (its internal name when none is known)."""
    action = OLD_ACTIONS.get(action, action)
    key = f"audit.action.{action}"
    return ctx.t(key) if key in CATALOGS[DEFAULT_LANGUAGE] else action.replace("_", " ")


def _refusal(ctx: Ctx, kind: str) -> str:
    """A refusal's kind in plain words, never its code."""
    key = f"audit.refusal.{kind}"
    return ctx.t(key) if key in CATALOGS[DEFAULT_LANGUAGE] else kind.replace("_", " ")


def _actor(ctx: Ctx, actor: AuditActor) -> str:
    """An entry's author as an admin recognises them: the member, the chat name, or the
    platform and a short id; "CLI" for the command line and the bot's own jobs."""
    if actor.member:
        return f"@{actor.member}"
    if actor.display_name:
        return actor.display_name
    if actor.platform and actor.platform_user_id:
        return ctx.t(f"audit.{actor.platform}_user", id=actor.platform_user_id[:8])
    return "CLI"


async def audit(ctx: Ctx, _args: str) -> list[Reply]:
    entries = await ctx.tx.members.recent_audit()
    count, accounts, kinds = await ctx.tx.members.recent_refusals(
        ctx.tx.now() - timedelta(hours=24))
    if not entries and not count:
        return [ctx.reply("audit.empty")]
    lines = [ctx.t("audit.header")]
    for entry, actor in entries:
        when = formatting.moment(entry.created_at, ctx.tx.rules.timezone, ctx.lang)
        target = f" {entry.target}" if entry.target else ""
        lines.append(f"{when} · {_actor(ctx, actor)} · {_action(ctx, entry.action)}{target}")
    if count:
        summary = ", ".join(f"{_refusal(ctx, kind)} {n}" for kind, n in sorted(kinds.items()))
        lines += ["", ctx.t("audit.refusals", count=count, accounts=accounts, kinds=summary)]
    return [Reply("\n".join(lines))]


COMMANDS = [
    Command("adduser", add_user, audience="admin", keywords=("멤버 추가",)),
    Command("addme", add_me, audience="admin"),
    Command("relink", relink, audience="admin"),
    Command("deluser", del_user, audience="admin", keywords=("멤버 삭제",)),
    Command("users", users, audience="admin", keywords=("멤버 목록",)),
    Command("admins", admins, audience="admin", keywords=("관리자 목록",)),
    Command("setgroup", set_group, audience="admin"),
    Command("unsetgroup", unset_group, audience="admin"),
    Command("setnotice", set_notice, audience="admin", keywords=("공지 등록",)),
    Command("week", week, audience="admin", keywords=("이번 주",)),
    Command("audit", audit, audience="admin", keywords=("감사 기록",)),
]
FLOWS = [Flow(NOTICE_FLOW, {"text": on_notice_text})]
