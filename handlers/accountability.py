"""Accountability from chat: members' `/me`, `/leaderboard`, `/appeal`; admins' `/strikes`,
`/pardon`, `/suspend`, `/unsuspend`, `/pause`, `/resume`, `/remove`, `/correct` (a
verdict of last week's record), and the appeal decision buttons. Every admin action is
in the audit log; the member is told."""

from __future__ import annotations

from datetime import datetime

from handlers import formatting
from handlers.arguments import whole_number
from handlers.context import Ctx, ProgressFn
from handlers.events import Button, Reply
from handlers.i18n import t
from handlers.registry import Command
from services.instagram.names import normalize_username
from services.links import PostLink, parse_post_link
from services.notifier import Render
from services.weeks import Week
from storage.models import Member, Strike

MAX_WEEKS = 52


def _week(ctx: Ctx, strike: Strike, lang: str | None = None) -> str:
    return formatting.week(Week(strike.week_start, ctx.tx.rules.timezone), lang or ctx.lang)


def _when(ctx: Ctx, moment: datetime | None, lang: str | None = None) -> str:
    return formatting.moment(moment, ctx.tx.rules.timezone, lang or ctx.lang) if moment else ""


def _tell(ctx: Ctx, member_id: int, render: Render) -> None:
    """Tell a member privately, after the commit (when the app can deliver)."""
    services = ctx.services

    async def work(_progress: ProgressFn) -> list[Reply]:
        if services is not None and services.delivery is not None:
            await services.delivery.to_members({member_id: render})
        return []

    ctx.after(work)


# --- members ---------------------------------------------------------------------------


async def me(ctx: Ctx, _args: str) -> list[Reply]:
    member = await ctx.tx.accountability.member(ctx.who.member_id) \
        if ctx.who.member_id is not None else None
    if member is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    view = await ctx.tx.accountability.me(member)
    status = ctx.t(f"member_status.{view.status}")
    lines = [ctx.t("me.header", username=member.instagram_username),
             ctx.t("me.status_until", status=status, until=_when(ctx, view.status_until))
             if view.status_until else ctx.t("me.status", status=status),
             ctx.t("me.streak", streak=view.streak, best=view.best_streak),
             ctx.t("me.rate", rate=round(view.completion * 100)) if view.completion is not None
             else ctx.t("me.no_rate")]
    if view.active_strikes:
        lines.append(ctx.t("me.strikes", count=len(view.active_strikes)))
        lines += [ctx.t("me.strike_line", week=_week(ctx, s), reason=ctx.t(f"strike.{s.reason}"))
                  for s in view.active_strikes]
    else:
        lines.append(ctx.t("me.no_strikes"))
    return [Reply("\n".join(lines))]


async def leaderboard(ctx: Ctx, _args: str) -> list[Reply]:
    board = await ctx.tx.accountability.leaderboard(ctx.tx.now())
    lines = [ctx.t("leaderboard.header"), "", ctx.t("leaderboard.streaks")]
    lines += [ctx.t("leaderboard.streak_line", rank=n, username=name, weeks=weeks)
              for n, (name, weeks) in enumerate(board.streaks, 1)] or [ctx.t("leaderboard.empty")]
    for key, rows in (("leaderboard.month", board.month), ("leaderboard.all_time",
                                                           board.all_time)):
        lines += ["", ctx.t(key)]
        lines += [ctx.t("leaderboard.rate_line", rank=n, username=name, rate=round(rate * 100))
                  for n, (name, rate) in enumerate(rows, 1)] or [ctx.t("leaderboard.empty")]
    return [Reply("\n".join(lines))]


async def appeal(ctx: Ctx, _args: str) -> list[Reply]:
    """Re-check the missing posts now; clear the strike if the comments are there, else
    send the appeal with the evidence to the admins."""
    if ctx.who.member_id is None:  # an admin who is not a member
        return [ctx.reply("admin.not_member")]
    now, member_id = ctx.tx.now(), ctx.who.member_id
    strikes = await ctx.tx.accountability.appealable(member_id, now)
    if not strikes:
        return [ctx.reply("appeal.nothing", hours=ctx.tx.rules.appeal_hours)]
    ids, checks, services = [s.id for s in strikes], ctx.tx.checks, ctx.services
    week = Week(strikes[0].week_start, ctx.tx.rules.timezone)
    username = ctx.who.member_username or ""
    pending: list[tuple[int, str, list[list[str]]]] = []

    async def work(_progress: ProgressFn) -> list[Reply]:
        if checks is not None and any(s.reason == "missing" for s in strikes):
            await checks.member_week(member_id, week)
        replies: list[Reply] = []
        async with services.transaction() as tx:
            await tx.records.take_rechecked(week, member_id, now, "appeal")
            missing = [[i.owner, i.url] for i in await tx.progress.missing_for(member_id, week)]
            for strike_id in ids:
                strike = await tx.accountability.strike(strike_id)
                if strike is None:
                    continue
                outcome = await tx.accountability.after_recheck(strike, missing, now)
                label = formatting.week(week, ctx.lang)
                if outcome == "cleared":
                    replies.append(Reply(ctx.t("appeal.cleared", week=label)))
                    continue
                replies.append(Reply(ctx.t("appeal.sent")))
                pending.append((strike.id, strike.reason, missing))
        for strike_id, reason, still in pending:
            if services.delivery is not None:
                await services.delivery.to_admins(
                    _appeal_for_admins(strike_id, username, week, reason, still),
                    lambda lang, i=strike_id: [
                        (t(lang, "appeal.uphold_button"), f"/appealdecide {i} uphold"),
                        (t(lang, "appeal.pardon_button"), f"/appealdecide {i} pardon")])
        return replies

    ctx.after(work)
    return [ctx.reply("appeal.checking")]


def _appeal_for_admins(strike_id: int, username: str, week: Week, reason: str,
                       still: list[list[str]]) -> Render:
    def render(lang: str) -> str:
        lines = [t(lang, "appeal.admins", id=strike_id, username=username,
                   week=formatting.week(week, lang), reason=t(lang, f"strike.{reason}"))]
        if reason == "missing" and still:
            lines.append(t(lang, "appeal.still_missing"))
            lines += [t(lang, "announce.item", owner=owner, url=url) for owner, url in still]
        return "\n".join(lines)
    return render


# --- admins ----------------------------------------------------------------------------


async def _member(ctx: Ctx, args: str, command: str) -> tuple[Member | None, list[Reply]]:
    first = args.split()[0] if args.split() else ""
    username = normalize_username(first) if first else None
    if username is None:
        return None, [ctx.reply("admin.usage_name", command=command)]
    found = await ctx.tx.accountability.member_by_name(username)
    if found is None or (found.status == "removed" and command != "strikes"):
        return None, [ctx.reply("admin.no_member", username=username)]
    return found, []


def _weeks(args: str) -> int | None:
    parts = args.split()
    return whole_number(parts[1], 1, MAX_WEEKS) if len(parts) >= 2 else None


async def strikes(ctx: Ctx, args: str) -> list[Reply]:
    member = None
    if args.strip():
        member, problem = await _member(ctx, args, "strikes")
        if member is None:
            return problem
    rows = await ctx.tx.accountability.strikes(member.id if member else None)
    if not rows:
        return [ctx.reply("strikes.none")]
    lines = [ctx.t("strikes.member_header", username=member.instagram_username) if member
             else ctx.t("strikes.header", count=len(rows))]
    buttons: list[Button] = []
    for username, strike in rows:
        lines.append(ctx.t("strikes.line", username=username, week=_week(ctx, strike),
                           reason=ctx.t(f"strike.{strike.reason}"),
                           status=ctx.t(f"strike_status.{strike.status}")))
        if strike.appeal == "pending":
            lines.append("   " + ctx.t("strikes.pending", id=strike.id))
            buttons += [Button(f"#{strike.id} " + ctx.t("appeal.uphold_button"),
                               f"/appealdecide {strike.id} uphold"),
                        Button(f"#{strike.id} " + ctx.t("appeal.pardon_button"),
                               f"/appealdecide {strike.id} pardon")]
    return [Reply("\n".join(lines), buttons=tuple(buttons[:10]))]


async def pardon(ctx: Ctx, args: str) -> list[Reply]:
    member, problem = await _member(ctx, args, "pardon")
    if member is None:
        return problem
    active = await ctx.tx.accountability.active_strikes(member.id)
    if not active:
        return [ctx.reply("admin.no_strike", username=member.instagram_username)]
    strike = active[-1]
    await ctx.tx.accountability.pardon(ctx.who.account_id, strike, ctx.tx.now())
    week = strike.week_start
    _tell(ctx, member.id, lambda lang: t(lang, "appeal.pardoned", week=formatting.week(
        Week(week, ctx.tx.rules.timezone), lang)))
    return [ctx.reply("admin.pardoned", username=member.instagram_username,
                      week=_week(ctx, strike), reason=ctx.t(f"strike.{strike.reason}"))]


async def decide_appeal(ctx: Ctx, args: str) -> list[Reply]:
    parts = args.split()
    number = whole_number(parts[0]) if len(parts) == 2 else None
    strike = await ctx.tx.accountability.strike(number) \
        if number is not None and parts[1] in ("uphold", "pardon") else None
    if strike is None or strike.appeal != "pending":
        return [ctx.reply("appeal.unknown", id=parts[0][:20] if parts else "?")]
    now, week = ctx.tx.now(), strike.week_start
    zone = ctx.tx.rules.timezone
    if parts[1] == "pardon":
        await ctx.tx.accountability.pardon(ctx.who.account_id, strike, now)
        key = "appeal.pardoned"
    else:
        await ctx.tx.accountability.uphold(ctx.who.account_id, strike, now)
        key = "appeal.upheld"
    _tell(ctx, strike.member_id,
          lambda lang: t(lang, key, week=formatting.week(Week(week, zone), lang)))
    decision = ctx.t("appeal.decision_pardoned" if parts[1] == "pardon"
                     else "appeal.decision_upheld")
    return [ctx.reply("appeal.decided", id=strike.id, decision=decision)]


async def suspend(ctx: Ctx, args: str) -> list[Reply]:
    member, problem = await _member(ctx, args, "suspend")
    if member is None:
        return problem
    weeks = _weeks(args)
    if weeks is None:
        return [ctx.reply("admin.usage_weeks", command="suspend")]
    until = ctx.tx.accountability.weeks_from_now(ctx.tx.now(), weeks)
    await ctx.tx.accountability.set_status(ctx.who.account_id, member, "suspended", until,
                                           "member_suspended")
    _tell(ctx, member.id, lambda lang: t(lang, "status.told_suspended",
                                         until=_when(ctx, until, lang)))
    return [ctx.reply("admin.suspended", username=member.instagram_username,
                      until=_when(ctx, until))]


async def pause(ctx: Ctx, args: str) -> list[Reply]:
    member, problem = await _member(ctx, args, "pause")
    if member is None:
        return problem
    weeks = _weeks(args)
    if len(args.split()) > 1 and weeks is None:
        return [ctx.reply("admin.usage_weeks", command="pause")]
    until = ctx.tx.accountability.weeks_from_now(ctx.tx.now(), weeks) if weeks else None
    await ctx.tx.accountability.set_status(ctx.who.account_id, member, "paused", until,
                                           "member_paused")

    def told(lang: str) -> str:
        suffix = t(lang, "status.told_paused_until", until=_when(ctx, until, lang)) \
            if until else ""
        return t(lang, "status.told_paused", until=suffix)

    _tell(ctx, member.id, told)
    suffix = ctx.t("status.told_paused_until", until=_when(ctx, until)) if until else ""
    return [ctx.reply("admin.paused", username=member.instagram_username, until=suffix)]


async def _reactivate(ctx: Ctx, args: str, command: str, status: str) -> list[Reply]:
    member, problem = await _member(ctx, args, command)
    if member is None:
        return problem
    if member.status != status:
        return [ctx.reply(f"admin.not_{status}", username=member.instagram_username)]
    await ctx.tx.accountability.set_status(ctx.who.account_id, member, "active", None,
                                           f"member_{command}d")
    _tell(ctx, member.id, lambda lang: t(lang, "status.told_active"))
    return [ctx.reply("admin.reactivated", username=member.instagram_username)]


async def unsuspend(ctx: Ctx, args: str) -> list[Reply]:
    return await _reactivate(ctx, args, "unsuspend", "suspended")


async def resume(ctx: Ctx, args: str) -> list[Reply]:
    return await _reactivate(ctx, args, "resume", "paused")


async def remove(ctx: Ctx, args: str) -> list[Reply]:
    """Removal happens only here, after an admin's confirmation button."""
    member, problem = await _member(ctx, args, "remove")
    if member is None:
        return problem
    name = member.instagram_username
    if args.split()[1:2] != ["confirm"]:
        button = Button(ctx.t("admin.remove_button"), f"/remove {name} confirm")
        return [ctx.reply("admin.remove_confirm", button, ctx.cancel_button(), username=name)]
    await ctx.tx.accountability.set_status(ctx.who.account_id, member, "removed", None,
                                           "member_removed")
    _tell(ctx, member.id, lambda lang: t(lang, "status.told_removed"))
    return [ctx.reply("admin.removed", username=name)]


CORRECTIONS = {"done": "done", "완료": "done", "missing": "missing", "빠짐": "missing"}
MAX_REASON = 200


async def correct(ctx: Ctx, args: str) -> list[Reply]:
    """`/correct NAME POST_LINK done|missing REASON`: one verdict of last week's record
    changed, shown with the week's results with the admin's name and the reason."""
    parts = args.split(maxsplit=3)
    if len(parts) < 4:
        return [ctx.reply("correct.usage")]
    username, link = normalize_username(parts[0]), parse_post_link(parts[1])
    status, reason = CORRECTIONS.get(parts[2].lower()), parts[3].strip()
    if username is None or not isinstance(link, PostLink) or status is None:
        return [ctx.reply("correct.usage")]
    if len(reason) > MAX_REASON:
        return [ctx.reply("correct.reason_too_long", limit=MAX_REASON)]
    now = ctx.tx.now()
    week = Week.containing(now, ctx.tx.rules.timezone).previous()
    label = formatting.week(week, ctx.lang)
    if not await ctx.tx.records.exists(week):
        return [ctx.reply("correct.not_recorded", week=label)]
    actor = await ctx.tx.accountability.actor_name(ctx.who.account_id)
    done = await ctx.tx.records.correct(week, username, link.url, status, actor, reason, now)
    if done is None:
        return [ctx.reply("correct.no_entry", username=username, url=link.url, week=label)]
    await ctx.tx.audit.add(ctx.who.account_id, "week_corrected", target=username,
                           detail=f"{link.url} {done.before}->{status}")
    return [ctx.reply("correct.done", username=username, url=link.url, week=label,
                      before=t(ctx.lang, f"verdict.{done.before}"),
                      after=t(ctx.lang, f"verdict.{status}"))]


COMMANDS = [
    Command("me", me, audience="member", keywords=("내 기록", "me")),
    Command("leaderboard", leaderboard, audience="member", keywords=("순위", "leaderboard")),
    Command("appeal", appeal, audience="member", keywords=("이의 신청",)),
    Command("strikes", strikes, audience="admin", keywords=("경고 목록",)),
    Command("pardon", pardon, audience="admin"),
    Command("suspend", suspend, audience="admin"),
    Command("unsuspend", unsuspend, audience="admin"),
    Command("pause", pause, audience="admin"),
    Command("resume", resume, audience="admin"),
    Command("remove", remove, audience="admin"),
    Command("correct", correct, audience="admin"),
    Command("appealdecide", decide_appeal, audience="admin", in_menu=False),
]
