"""The chat benchmark's week (benchmarks/seed_week.py) is one a check agrees with: its
simulated Instagram shows exactly the comments its seeded verdicts claim, a handed-in
link's author is its member, and a finished last week is not checked again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.seed_week import (
    NON_COMPLIANT_EVERY,
    WeekInstagram,
    finish_last_week,
    helper_names,
    helper_session,
    seed,
    weeks_at,
)
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.instagram.runtime import Instagram
from services.rules import CommunityRules
from storage.db import session_factory
from storage.models import Submission, Verification

MEMBERS = 40


async def verdicts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(Verification.status, func.count())
                                  .group_by(Verification.status))
        return {status: count for status, count in rows.all()}


async def test_the_refresh_finds_the_week_as_seeded(engine: AsyncEngine,
                                                    database_url: str) -> None:
    now = datetime.now(UTC)
    await seed(database_url, MEMBERS, helpers=2, now=now)
    await finish_last_week(database_url, now)
    before = await verdicts(engine)
    async with engine.connect() as conn:
        posts = await conn.scalar(select(func.count()).select_from(Submission))
    # Two weeks of 2-3 posts a member; each post owed by everyone but its author, and
    # the 5% who comment on nothing owe every other member's.
    per_week = sum(2 + n % 2 for n in range(1, MEMBERS + 1))
    owing = [n for n in range(1, MEMBERS + 1) if n % NON_COMPLIANT_EVERY == 0]
    theirs = sum(2 + n % 2 for n in owing)
    assert posts == 2 * per_week
    assert before == {"missing": 2 * (len(owing) * per_week - theirs),
                      "done": 2 * (per_week * (MEMBERS - 1) - len(owing) * per_week + theirs)}

    sim = WeekInstagram(MEMBERS, 2)
    services = Services(session_factory(engine), CommunityRules(),
                        instagram=Instagram(sim, hourly_budget=10**6))
    assert services.checks is not None
    report = await services.checks.week(weeks_at(now).current, only_open=True)
    assert report.posts == per_week  # the 5% owe on every post: each is read
    assert await verdicts(engine) == before  # and every verdict stays as seeded

    info = await sim.post_info(helper_session(helper_names(1)[0]), "N00007x1")
    assert info.author == "member.00007" and sim.author_reads == 1

    read = sim.requests()
    jobs = WeeklyJobs(services, services.delivery)  # type: ignore[arg-type]
    await jobs.final()  # last week is recorded and its final job done
    assert sim.requests() == read
