"""The chat benchmark's week (benchmarks/seed_week.py) is a real week at the moments it
is measured: the product's own reads left open debts that the final check and the
next refresh must read (comments made since), its simulated Instagram shows the same
comments with the same pks in every process, a handed-in link's author is its member,
and a week after its final check is not checked again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.seed_week import (
    NON_COMPLIANT_EVERY,
    Timeline,
    WeekInstagram,
    check_last_week,
    finish_last_week,
    helper_names,
    helper_session,
    seed,
    seed_read,
    weeks_at,
)
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.instagram.runtime import Instagram
from services.rules import CommunityRules
from storage.db import is_sqlite, session_factory
from storage.models import PostRead, Submission, Verification

MEMBERS = 30


async def verdicts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(Verification.status, func.count())
                                  .group_by(Verification.status))
        return {status: count for status, count in rows.all()}


def test_comments_are_the_same_in_every_process_and_come_with_time() -> None:
    anchor = datetime.now(UTC)
    timeline = Timeline(anchor)
    first, again = WeekInstagram(MEMBERS, 1, anchor=anchor), WeekInstagram(MEMBERS, 1,
                                                                           anchor=anchor)
    post, same = first._post("L00003x1"), again._post("L00003x1")
    assert first._listed(post) == again._listed(same)  # pks and times alike
    assert first.pk("member.00007") == again.pk("member.00007")
    cutoff = timeline.cutoff("L")
    read = timeline.last_read("L")
    first.as_of = lambda: read
    seen = len(first._listed(post))
    first.as_of = lambda: cutoff
    by_cutoff = len(first._listed(post))
    first.as_of = lambda: anchor
    everything = first._listed(post)
    pks = [pk for pk, _, _ in everything]
    assert pks == sorted(pks)  # comment pks grow with time, as Instagram's do
    commenters = {row[0] for _, _, row in everything}
    assert "member.00003" not in commenters  # nobody comments on their own post
    assert all(int(name[-5:]) % NON_COMPLIANT_EVERY for name in commenters)
    assert seen <= by_cutoff <= len(everything)


# A Wednesday noon in Seoul: last week's late comments (made after its cutoff) are
# there. Right after Monday's midnight, at the real time, they were not yet.
WEDNESDAY = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


async def test_a_read_week_leaves_debts_the_final_check_and_the_refresh_read(
        engine: AsyncEngine, database_url: str) -> None:
    now = WEDNESDAY
    weeks = weeks_at(now)
    await seed_read(database_url, MEMBERS, 2, now)
    async with engine.connect() as conn:
        posts = await conn.scalar(select(func.count()).select_from(Submission))
        kept = await conn.scalar(select(func.count()).select_from(PostRead)
                                 .where(PostRead.finished.is_(True)))
    per_week = sum(2 + n % 2 for n in range(1, MEMBERS + 1))
    assert posts == kept == 2 * per_week  # every post read through once, its read kept
    before = await verdicts(engine)
    assert set(before) == {"done", "missing"}  # read before the cutoff: "missing" is a to-do

    sim = WeekInstagram(MEMBERS, 2, anchor=now, as_of=lambda: now)
    services = Services(session_factory(engine), CommunityRules(), clock=lambda: now,
                        serialize=is_sqlite(database_url),
                        instagram=Instagram(sim, hourly_budget=10**6))
    final = await services.checks.week(weeks.last, only_open=True, final=True)
    # Every post has an open debt (the 5% who never comment); each is read for what is
    # newer than its kept read, not from its first page again: about a request a post.
    assert final.posts == per_week
    assert per_week <= final.requests < 2 * per_week
    after = await verdicts(engine)
    assert after["done"] > before["done"]  # comments made since the last read, on time
    assert after.get("late", 0) > 0  # and some after the cutoff
    refresh = await services.checks.week(weeks.current, only_open=True)
    assert refresh.posts == per_week and per_week <= refresh.requests < 2 * per_week

    info = await sim.post_info(helper_session(helper_names(1)[0]), "N00007x1")
    assert info.author == "member.00007" and sim.author_reads == 1
    assert sim.check_requests() == final.requests + refresh.requests


async def test_after_the_final_check_last_week_is_not_checked_again(
        engine: AsyncEngine, database_url: str) -> None:
    now = datetime.now(UTC)
    await seed_read(database_url, MEMBERS, 2, now)
    await check_last_week(database_url, MEMBERS, 2, now)
    sim = WeekInstagram(MEMBERS, 2, anchor=now)
    services = Services(session_factory(engine), CommunityRules(),
                        instagram=Instagram(sim, hourly_budget=10**6))
    jobs = WeeklyJobs(services, services.delivery)  # type: ignore[arg-type]
    await jobs.final()  # last week is recorded and its final job done
    assert sim.requests() == 0


async def test_the_settled_week_has_every_verdict(engine: AsyncEngine,
                                                  database_url: str) -> None:
    now = datetime.now(UTC)
    await seed(database_url, MEMBERS, helpers=2, now=now)
    await finish_last_week(database_url, now)
    per_week = sum(2 + n % 2 for n in range(1, MEMBERS + 1))
    owing = [n for n in range(1, MEMBERS + 1) if n % NON_COMPLIANT_EVERY == 0]
    theirs = sum(2 + n % 2 for n in owing)
    assert await verdicts(engine) == {
        "missing": 2 * (len(owing) * per_week - theirs),
        "done": 2 * (per_week * (MEMBERS - 1) - len(owing) * per_week + theirs)}
