"""A check leaves the event loop, and the connection pool, to the chat: its start reads
the week's open debts a slice at a time (a thousand-member week mid-week has hundreds
of thousands: taken in one go their rows held the loop for seconds), and its reads,
with every helper at once, look up their kept reads a few at a time (a hundred at
once emptied the pool: chat waited for connections, the check failed after 30 s).
Both found by the chat-during-checks benchmark at a thousand members."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import services.verification.verifier as verification
from benchmarks.seed_week import WeekInstagram, seed, weeks_at
from services.container import Services
from services.instagram.runtime import Instagram
from services.rules import CommunityRules
from storage.db import is_sqlite, session_factory

MEMBERS = 120  # 36,000 open debts a week: no verdict read yet


async def test_the_open_debts_are_taken_a_slice_at_a_time(
        engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    await seed(database_url, MEMBERS, now=now, kakao=False, verdicts=False)
    week = weeks_at(now).current
    monkeypatch.setattr(verification, "DEBTS_AT_ONCE", 1_000)
    turns = 0
    sleep = asyncio.sleep

    async def counted(delay: float, *args: object) -> object:
        nonlocal turns
        turns += delay == 0
        return await sleep(delay, *args)

    # The turns the listing gives the loop on purpose (a slice the driver had buffered
    # comes without any wait: without them the loop would not turn at all meanwhile).
    monkeypatch.setattr(verification.asyncio, "sleep", counted)
    async with session_factory(engine)() as session:
        posts = await verification.posts_to_check(session, week, CommunityRules(),
                                                  only_open=True, now=now)
    monkeypatch.undo()
    debts = sum(len(post.owed_by) for post in posts)
    assert debts == len(posts) * (MEMBERS - 1)
    assert turns >= debts // 1_000 + len(posts) // verification.POSTS_AT_ONCE


async def test_a_check_with_many_helpers_leaves_connections_to_the_chat(
        engine: AsyncEngine, database_url: str) -> None:
    now = datetime.now(UTC)
    members, helpers = 30, 12
    await seed(database_url, members, helpers, now=now, kakao=False, verdicts=False)
    sim = WeekInstagram(members, helpers, (0.01, 0.03), anchor=now)
    services = Services(session_factory(engine), CommunityRules(), clock=lambda: now,
                        serialize=is_sqlite(database_url),
                        instagram=Instagram(sim, hourly_budget=10**6))
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


async def test_reads_that_finish_together_leave_the_chat_a_turn_between_posts(
        engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hundred helpers' reads finish together at a thousand members: each post's
    verdicts and kept read (~10 ms of CPU) are worked out one post at a time, with a
    turn of the loop before each, so a chat answer waits for one post, not for all."""
    now = datetime.now(UTC)
    members, helpers = 30, 8
    await seed(database_url, members, helpers, now=now, kakao=False, verdicts=False)
    sim = WeekInstagram(members, helpers, (0.02, 0.02), anchor=now)  # reads end together
    services = Services(session_factory(engine), CommunityRules(), clock=lambda: now,
                        serialize=is_sqlite(database_url),
                        instagram=Instagram(sim, hourly_budget=10**6))
    assert services.checks is not None
    turns = 0  # the chat's turns: a task that only ever yields
    seen: list[int] = []  # the chat's turns as each post's work began
    worked_out = verification._worked_out

    def counted(*args: object) -> object:
        seen.append(turns)
        return worked_out(*args)  # type: ignore[arg-type]

    async def chat() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    monkeypatch.setattr(verification, "_worked_out", counted)
    probe = asyncio.create_task(chat())
    try:
        report = await services.checks.week(weeks_at(now).current, final=True)
    finally:
        probe.cancel()
    assert report.fetched == report.posts == len(seen) > helpers
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))

