"""Checks on demand: `/verify` for admins (the week, with a progress message), and
"check now" from `/status` for members (their own open posts, rate-limited).

The Instagram work runs after the event's transaction (ctx.after), never inside it.
"""

from __future__ import annotations

from handlers import announcements, formatting
from handlers.context import Ctx, ProgressFn
from handlers.events import Reply
from handlers.registry import Command
from handlers.weekly import status
from services.weeks import Week


async def _no_reader(ctx: Ctx) -> list[Reply]:
    """Nothing can be read without a helper account: say so before promising a check."""
    registered, usable = await ctx.tx.helpers.counts()
    if registered and usable:
        return []
    admin = ctx.who.is_admin
    if registered == 0:
        return [ctx.reply("check.no_helper_admin" if admin else "check.no_helper_member")]
    return [ctx.reply("ig.admin.no_helper" if admin else "check.no_reader_member")]


async def verify(ctx: Ctx, _args: str) -> list[Reply]:
    checks = ctx.tx.checks
    if checks is None:
        return [ctx.reply("check.no_helper_admin")]
    if refused := await _no_reader(ctx):
        return refused
    if checks.lock.locked():
        return [ctx.reply("verify.busy")]
    week = Week.containing(ctx.tx.now(), ctx.tx.rules.timezone)
    posts = await ctx.tx.submissions.count_of_week(week)
    if posts == 0:
        return [ctx.reply("verify.nothing")]
    lang = ctx.lang

    async def work(progress: ProgressFn) -> list[Reply]:
        async def step(done: int, total: int) -> None:
            await progress(ctx.t("verify.progress", done=done, total=total))

        report = await checks.week(week, progress=step)
        report_text = announcements.run_report("job.manual", week.label, report)(lang)
        return [Reply(ctx.t("verify.finished") + "\n\n" + report_text)]

    ctx.after(work)
    return [Reply(ctx.t("verify.started", posts=posts), progress=True)]


async def check_now(ctx: Ctx, _args: str) -> list[Reply]:
    """The /status button: re-check my open posts now (from the short cache if fresh)."""
    checks, member_id, now = ctx.tx.checks, ctx.who.member_id, ctx.tx.now()
    if checks is None or member_id is None:
        return await status(ctx, "")
    if refused := await _no_reader(ctx):
        return refused
    wait = await checks.claim(member_id, now, session=ctx.tx.session)
    if wait is not None:
        when = formatting.moment(wait, ctx.tx.rules.timezone, ctx.lang)
        return [ctx.reply("status.check_wait", time=when)]
    who, tx_now = ctx.who, now

    async def work(_progress: ProgressFn) -> list[Reply]:
        report = await checks.member(member_id, tx_now)
        async with ctx.services.transaction() as tx:
            fresh = Ctx(ctx.event, who, tx, services=ctx.services)
            replies = await status(fresh, "")
        said = "status.check_paused" if report.paused else "status.checked"
        return [Reply(ctx.t(said) + "\n\n" + replies[0].text, buttons=replies[0].buttons)]

    ctx.after(work)
    return []


COMMANDS = [
    Command("verify", verify, audience="admin", keywords=("확인 실행",)),
    Command("checknow", check_now, audience="member", keywords=("지금 확인",), in_menu=False),
]
