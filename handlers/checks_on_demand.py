"""Checks on demand: `/verify` for admins (the week, with a progress message), and
"check now" from `/status` for members (their own open posts, rate-limited).

The Instagram work runs after the event's transaction (`Ctx.defer`), never inside it.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from handlers import announcements, formatting
from handlers.arguments import iso_week
from handlers.context import Continue, Ctx, ProgressFn
from handlers.events import Reply
from handlers.i18n import t
from handlers.member_week import status
from handlers.registry import Command
from services.container import Services
from services.verification.check_runs import MemberCheck
from services.verification.verifier import RunReport
from services.week.calendar import Week


async def _no_reader(ctx: Ctx) -> list[Reply]:
    """Nothing can be read without a helper account: say so before promising a check.
    Waiting does not fix it, an admin does: a member's try tells the admins."""
    registered, usable = await ctx.tx.helpers.counts()
    if registered and usable:
        return []
    admin = ctx.who.is_admin
    if not admin:
        _tell_admins(ctx, "check.no_helper_admins" if registered == 0
                     else "check.no_reader_admins")
    if registered == 0:
        return [ctx.reply("check.no_helper_admin" if admin else "check.no_helper_member")]
    return [ctx.reply("ig.admin.no_helper" if admin else "check.no_reader_member")]


# When the admins last heard that a member's check found no helper (once an hour at most,
# per process: a member pressing the button again must not flood the admins).
_TOLD: weakref.WeakKeyDictionary[Services, datetime] = weakref.WeakKeyDictionary()
TELL_EVERY = timedelta(hours=1)


def _tell_admins(ctx: Ctx, key: str) -> None:
    services, now, username = ctx.services, ctx.tx.now(), ctx.who.member_username or "?"
    last = _TOLD.get(services)
    if last is not None and now - last < TELL_EVERY:
        return
    _TOLD[services] = now
    ctx.defer(Continue(services.delivery.to_admins, (partial(_said, key, username),)))


def _said(key: str, username: str, lang: str) -> str:
    return t(lang, key, username=username)


async def verify(ctx: Ctx, args: str) -> list[Reply]:
    """`/verify`: check this week now. `/verify 2026-W47` (or `/verify` alone while last
    week's final check has not finished: no record, or results not sent): finish that
    week as its final check would have (record, ladder, private results, group post)."""
    checks = ctx.tx.checks
    rules, now = ctx.tx.rules, ctx.tx.now()
    this_week = Week.containing(now, rules.timezone)
    asked: Week | None = None
    if args.strip():
        asked = iso_week(args, rules.timezone)
        if asked is None:
            return [ctx.reply("verify.week_bad")]
    last = this_week if now >= this_week.at(rules.comment_deadline) else this_week.previous()
    unfinished = ctx.services.finish_week.connected and asked is None \
        and not await ctx.tx.records.finished(last) \
        and await ctx.tx.submissions.count_of_week(last) > 0
    if (asked is not None and asked != this_week) or unfinished:
        return await _finish_week(ctx, asked or last, last)
    if refused := await _no_reader(ctx):
        return refused
    if checks.lock.locked():
        return [ctx.reply("verify.busy")]
    week = this_week
    posts = await ctx.tx.submissions.count_of_week(week)
    if posts == 0:
        return [ctx.reply("verify.nothing")]
    ctx.defer(Continue(checks.week, (week,), {"final": True},  # an admin asked
                       then=_verified, values={"week": week.label}, progress=_verify_meter,
                       catch=()))
    return [Reply(ctx.t("verify.started", posts=posts), progress=True)]


def _verify_meter(lang: str, show: ProgressFn) -> Callable[[int, int], Awaitable[None]]:
    """How far `/verify` has read, as the progress message says it."""
    async def step(done: int, total: int) -> None:
        await show(t(lang, "verify.progress", done=done, total=total))
    return step


async def _verified(ctx: Ctx, report: RunReport, *, week: str) -> list[Reply]:
    """`/verify`'s check has ended: the run's report."""
    report_text = announcements.run_report("job.manual", week, report)(ctx.lang)
    return [Reply(ctx.t("verify.finished") + "\n\n" + report_text)]


async def _finish_week(ctx: Ctx, week: Week, last: Week) -> list[Reply]:
    """A finished week whose final check did not finish: its steps, after the commit."""
    if week.start > last.start:
        return [ctx.reply("verify.week_not_over", week=week.label)]
    if await ctx.tx.records.finished(week):
        return [ctx.reply("verify.week_recorded", week=week.label)]
    if await ctx.tx.submissions.count_of_week(week) == 0:
        return [ctx.reply("verify.week_empty", week=week.label)]
    finish = ctx.services.finish_week
    checks = ctx.tx.checks
    if not finish.connected or checks.lock.locked():
        return [ctx.reply("verify.busy")]

    ctx.defer(Continue(finish, (week,), then=_week_finished, values={"week": week.label},
                       catch=()))
    return [Reply(ctx.t("verify.week_started", week=week.label), progress=True)]


async def _week_finished(ctx: Ctx, finished: bool, *, week: str) -> list[Reply]:
    """`/verify WEEK` has run that week's final steps, or found them running already."""
    if not finished:  # its final check is going on now (or just ended)
        return [ctx.reply("verify.busy")]
    return [ctx.reply("verify.week_finished", week=week)]


async def check_now(ctx: Ctx, _args: str) -> list[Reply]:
    """The /status button: re-check my open posts now (from the short cache if fresh)."""
    checks, member_id, now = ctx.tx.checks, ctx.who.member_id, ctx.tx.now()
    if member_id is None:
        return await status(ctx, "")
    if refused := await _no_reader(ctx):
        return refused
    wait = await checks.claim(member_id, now, session=ctx.tx.session)
    if wait is not None:
        when = formatting.moment(wait, ctx.tx.rules.timezone, ctx.lang)
        return [ctx.reply("status.check_wait", time=when)]
    ctx.defer(Continue(checks.member, (member_id, now), then=_checked, values={"now": now},
                       catch=()))
    return []


async def _checked(ctx: Ctx, checked: MemberCheck, *, now: datetime) -> list[Reply]:
    """"Check now" has read: what it did, above the member's status as it is now."""
    replies = await status(ctx, "")
    said = _check_said(ctx, checked, now)
    return [Reply(said + "\n\n" + replies[0].text, buttons=replies[0].buttons)]


def _check_said(ctx: Ctx, checked: MemberCheck, now: datetime) -> str:
    """What a "check now" did: all read, some (the rest at the next refresh, named), or
    none (the helpers could not read more now)."""
    report, when = checked.report, _next_look(ctx, checked.next_look, now)
    if not report.paused:
        return ctx.t("status.checked")
    if checked.partial and checked.read > 0 and when is not None:
        return ctx.t("status.check_partial", total=report.posts, read=checked.read, when=when)
    if when is not None:
        return ctx.t("status.check_paused_until", when=when)
    return ctx.t("status.check_paused")


def _next_look(ctx: Ctx, at: datetime | None, now: datetime) -> str | None:
    """"오늘 21:00" / "내일 21:00" in the community's zone (a refresh is within a day)."""
    if at is None:
        return None
    zone = ctx.tx.rules.timezone
    local, today = at.astimezone(zone), now.astimezone(zone).date()
    key = "status.check_when_today" if local.date() == today else "status.check_when_tomorrow"
    return ctx.t(key, time=f"{local:%H:%M}")


COMMANDS = [
    Command("verify", verify, audience="admin", keywords=("확인 실행",)),
    Command("checknow", check_now, audience="member", keywords=("지금 확인",), in_menu=False),
]
