"""The scale benchmark's week (benchmarks/scale.py) looks as a week mid-way does: its
comments arrive over the week with fixed times and pks, the earlier refresh's reads and
verdicts are the product's own, and the next refresh reads only what is newer."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.scale import BEFORE, SINCE, MidWeek, MidWeekInstagram, read_earlier
from benchmarks.seed_week import compliant, seed, username
from services.container import Services
from services.instagram.runtime import Instagram
from services.rules import CommunityRules
from storage.db import session_factory
from storage.models import PostRead, Submission, Verification

MEMBERS = 20
SEEDED = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # a Thursday noon in Seoul


def test_comments_arrive_over_the_week_with_fixed_times_and_pks() -> None:
    plan = MidWeek.at(SEEDED)
    assert plan.handed < plan.last_read < plan.seeded < plan.cutoff
    code = next(f"C00003x{k}" for k in range(60) if any(  # a post commented on since
        plan.last_read < (plan.comment_time(f"C00003x{k}", m) or plan.cutoff) <= plan.seeded
        for m in range(1, MEMBERS + 1)))
    before = MidWeekInstagram(MEMBERS, 1, plan, as_of=plan.last_read)._post(code)
    now = MidWeekInstagram(MEMBERS, 1, plan, as_of=plan.seeded)._post(code)
    late = MidWeekInstagram(MEMBERS, 1, plan, as_of=plan.cutoff)._post(code)
    shown = [set(p.comment_pks.values()) for p in (before, now, late)]
    assert shown[0] < shown[1] < shown[2]  # the same pks, more of them as time goes
    assert max(shown[0]) < min(shown[1] - shown[0])  # newer comments, higher pks
    owed = [m for m in range(1, MEMBERS + 1) if m != 3]
    assert {c[0] for c in late.comments} == {username(m) for m in owed if compliant(m)}
    for _name, _text, at in late.comments:
        assert plan.handed <= at <= plan.cutoff
    # Over many posts the shares come out as planned.
    counts = [0, 0, 0]
    for n in range(1, 201):
        for member in range(1, MEMBERS + 1):
            at = plan.comment_time(f"C{n:05d}x0", member)
            if at is not None:
                counts[0 if at <= plan.last_read else 1 if at <= plan.seeded else 2] += 1
    debts = 200 * MEMBERS
    assert abs(counts[0] / debts - BEFORE) < 0.03 and abs(counts[1] / debts - SINCE) < 0.03


async def test_the_next_refresh_reads_only_what_is_newer(engine: AsyncEngine,
                                                         database_url: str) -> None:
    plan = MidWeek.at(SEEDED)
    await seed(database_url, MEMBERS, 2, now=plan.seeded)
    earlier = await read_earlier(database_url, MEMBERS, 2, plan)
    async with engine.connect() as conn:
        reads = await conn.scalar(select(func.count()).select_from(PostRead)
                                  .where(PostRead.finished.is_(True)))
        done = await conn.scalar(
            select(func.count()).select_from(Verification)
            .join(Submission, Submission.id == Verification.submission_id)
            .where(Verification.status == "done", Submission.week_start == plan.week.start))
    assert reads == earlier["posts"] > 0

    sim = MidWeekInstagram(MEMBERS, 2, plan, as_of=plan.seeded)  # another instance
    services = Services(session_factory(engine), CommunityRules(), clock=lambda: plan.seeded,
                        instagram=Instagram(sim, hourly_budget=10**6))
    async with services.transaction() as tx:
        await tx.helpers.load_pool()
    report = await services.checks.week(plan.week, only_open=True)
    assert report.posts == earlier["posts"] and not report.paused
    # Twenty members' posts fit a page: each read asks its newest page once, no info.
    assert sim.requests() == report.posts < earlier["requests"]
    # Every debt commented by now is found, in the bot's process as in the seed's (the
    # pks are the same in both), and no other.
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(Submission.shortcode, Verification.member_id, Verification.status)
            .join(Submission, Submission.id == Verification.submission_id)
            .where(Submission.week_start == plan.week.start))).all()
    commented = {(code, member) for code, member, _ in rows
                 if (plan.comment_time(code, member) or plan.cutoff) <= plan.seeded}
    assert {(code, member) for code, member, status in rows if status == "done"} == commented
    assert len(commented) > done
