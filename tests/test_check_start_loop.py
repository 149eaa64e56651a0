"""A check leaves the event loop, and the connection pool, to the chat: its start reads
the week's open debts a slice at a time (a thousand-member week mid-week has hundreds
of thousands: taken in one go their rows held the loop for seconds), and its reads,
with every helper at once, look up their kept reads a few at a time (a hundred at
once emptied the pool: chat waited for connections, the check failed after 30 s).
Both found by the chat-during-checks benchmark at a thousand members."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import services.verification as verification
from benchmarks.seed_week import WeekInstagram, seed, weeks_at
from services.container import Services
from services.instagram.runtime import Instagram
from services.rules import CommunityRules
from storage.db import is_sqlite, session_factory


async def longest_stall(engine: AsyncEngine, week: verification.Week, now: datetime) -> float:
    """The longest the loop waited for a turn while the week's open posts were listed."""
    gaps: list[float] = []

    async def ticker() -> None:  # what a chat answer waiting for the loop sees
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0)
            gaps.append(time.perf_counter() - began)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    async with session_factory(engine)() as session:
        posts = await verification.posts_to_check(session, week, CommunityRules(),
                                                  only_open=True, now=now)
    ticking.cancel()
    assert sum(len(post.owed_by) for post in posts) == len(posts) * (MEMBERS - 1)
    return max(gaps)


MEMBERS = 300  # 224,000 open debts a week: no verdict read yet


async def test_the_open_debts_are_taken_a_slice_at_a_time(
        engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    await seed(database_url, MEMBERS, now=now, kakao=False, verdicts=False)
    week = weeks_at(now).current
    monkeypatch.setattr(verification, "DEBTS_AT_ONCE", 10**9)
    at_once = await longest_stall(engine, week, now)
    monkeypatch.setattr(verification, "DEBTS_AT_ONCE", 2_000)
    sliced = await longest_stall(engine, week, now)
    assert sliced < at_once / 3, (sliced, at_once)


async def test_a_check_with_many_helpers_leaves_connections_to_the_chat(
        engine: AsyncEngine, database_url: str) -> None:
    now = datetime.now(UTC)
    members, helpers = 30, 12
    await seed(database_url, members, helpers, now=now, kakao=False, verdicts=False)
    sim = WeekInstagram(members, helpers, (0.01, 0.03), anchor=now)
    services = Services(session_factory(engine), CommunityRules(), clock=lambda: now,
                        serialize=is_sqlite(database_url),
                        instagram=Instagram(sim, hourly_budget=10**6))
    assert services.checks is not None
    verifier = services.checks.verifier
    sessions, open_now, most = verifier.sessions, 0, 0

    @asynccontextmanager
    async def counted() -> AsyncIterator[AsyncSession]:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            async with sessions() as session:
                yield session
        finally:
            open_now -= 1

    verifier.sessions = counted  # type: ignore[assignment]
    report = await services.checks.week(weeks_at(now).current, final=True)
    assert report.fetched == report.posts > helpers
    # Twelve reads at once; the kept-read lookups, the writes (one at a time on SQLite,
    # a few on PostgreSQL) and the names learned after a write hold the rest.
    writes = 1 if is_sqlite(database_url) else verification.CONCURRENT_WRITES
    assert most <= verification.KEPT_READS_AT_ONCE + writes + 1 < helpers
