"""Chat first (services/operations/chat_first.py): while a chat event is being answered,
a check's work waits for it (each step at most a bounded time, so a flood of chat slows
a check but never stalls it), and goes on once the chat is quiet. Work a chat event
itself awaits (a member's "check now") never waits for the chat. Found by the
chat-during-checks benchmark at a thousand members: the Kakao answers during a check
waited for the check's posts on the one event loop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import services.verification.verifier as verification
from benchmarks.seed_week import WeekInstagram, seed, weeks_at
from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.runtime import Instagram
from services.operations.chat_first import ChatFirst
from services.rules import CommunityRules
from storage.db import is_sqlite, session_factory
from tests.support.chat_driver import Person
from tests.support.kakao import kakao_factory  # noqa: F401 (a fixture)


async def test_give_way_waits_for_the_chat_in_flight_then_goes_on() -> None:
    chat = ChatFirst(patience=5.0)
    await asyncio.wait_for(chat.give_way(), 0.1)  # no chat: at once
    quiet = asyncio.Event()

    async def answer() -> None:
        with chat.answering():
            await quiet.wait()

    answering = asyncio.create_task(answer())
    await asyncio.sleep(0)
    assert chat.in_flight == 1
    waiting = asyncio.create_task(chat.give_way())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the chat is answered first
    quiet.set()
    await answering
    await asyncio.wait_for(waiting, 0.1)  # and then the work goes on at once
    assert chat.in_flight == 0 and chat.waits == 1


async def test_give_way_is_bounded_so_a_chat_flood_never_stalls_the_work() -> None:
    chat = ChatFirst(patience=0.05)
    work = asyncio.create_task(chat.give_way())  # background work: not the chat's context
    with chat.answering():  # a chat event that never ends
        await asyncio.wait_for(work, 10)  # it goes on all the same
    assert chat.waits == 1 and chat.waited >= 0.05 * 0.9  # after waiting its patience


async def test_work_the_chat_itself_awaits_never_waits_for_the_chat() -> None:
    """A member's "check now" runs inside their event: it must not wait for itself (nor
    for another person's event in flight meanwhile)."""
    chat = ChatFirst(patience=5.0)
    with chat.answering(), chat.answering():
        await asyncio.wait_for(chat.give_way(), 0.1)
        # A task the event starts inherits its context: still the chat's own work.
        await asyncio.wait_for(asyncio.create_task(chat.give_way()), 0.1)


async def test_the_dispatcher_marks_an_event_in_flight_while_it_is_answered(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = Dispatcher(services)
    seen: list[int] = []
    route = dispatcher._route

    async def spied(*args: Any, **kwargs: Any) -> Any:
        seen.append(services.chat_first.in_flight)
        return await route(*args, **kwargs)

    monkeypatch.setattr(dispatcher, "_route", spied)
    await Person(dispatcher, "someone").say("/help")
    assert seen == [1]
    assert services.chat_first.in_flight == 0


async def test_a_kakao_answer_is_in_flight_until_it_is_sent(
        services: Services, kakao_factory: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the dispatcher too: the outbox's part of the answer and its rendering."""
    kakao, skill = await kakao_factory()
    seen: list[int] = []
    render = skill._render

    async def spied(*args: Any, **kwargs: Any) -> Any:
        seen.append(services.chat_first.in_flight)
        return await render(*args, **kwargs)

    monkeypatch.setattr(skill, "_render", spied)
    await kakao.say("도움말")
    assert seen == [1] and services.chat_first.in_flight == 0


# A Wednesday noon in Seoul: the seeded week is mid-week, whatever the real time.
WEDNESDAY = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


async def test_a_check_waits_while_a_chat_event_is_in_flight_and_goes_on_after(
        engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = WEDNESDAY
    members, helpers = 12, 4
    await seed(database_url, members, helpers, now=now, kakao=False, verdicts=False)
    sim = WeekInstagram(members, helpers, (0.0, 0.0), anchor=now)
    services = Services(session_factory(engine), CommunityRules(), clock=lambda: now,
                        serialize=is_sqlite(database_url),
                        instagram=Instagram(sim, hourly_budget=10**6))
    services.chat_first.patience = 30.0  # longer than the test: only the chat's end frees it
    worked: list[float] = []
    worked_out = verification._worked_out

    def counted(*args: object) -> object:
        worked.append(time.monotonic())
        return worked_out(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(verification, "_worked_out", counted)
    quiet = asyncio.Event()

    async def answer() -> None:
        with services.chat_first.answering():
            await quiet.wait()

    answering = asyncio.create_task(answer())
    await asyncio.sleep(0)
    check = asyncio.create_task(services.checks.week(weeks_at(now).current, final=True))
    await asyncio.sleep(0.5)
    # No post taken up (no kept read looked up, nothing asked of Instagram), none worked out.
    assert not check.done() and worked == [] and sim.check_requests() == 0
    assert services.chat_first.waits == 0  # all still waiting
    ended = time.monotonic()
    quiet.set()
    await answering
    report = await asyncio.wait_for(check, 60)
    assert report.fetched == report.posts == len(worked) > 0
    assert min(worked) >= ended


async def test_a_check_under_a_chat_that_never_ends_still_finishes(
        engine: AsyncEngine, database_url: str) -> None:
    now = WEDNESDAY
    members, helpers = 8, 4
    await seed(database_url, members, helpers, now=now, kakao=False, verdicts=False)
    sim = WeekInstagram(members, helpers, (0.0, 0.0), anchor=now)
    services = Services(session_factory(engine), CommunityRules(), clock=lambda: now,
                        serialize=is_sqlite(database_url),
                        instagram=Instagram(sim, hourly_budget=10**6))
    services.chat_first.patience = 0.02
    check = asyncio.create_task(services.checks.week(weeks_at(now).current, final=True))
    with services.chat_first.answering():  # a flood: always an event in flight
        report = await asyncio.wait_for(check, 60)
    assert report.fetched == report.posts > 0
    # Each post gave way at each of its steps, and each wait ended at the bound.
    assert services.chat_first.waits >= 2 * report.posts
    assert services.chat_first.waited >= 0.02 * services.chat_first.waits * 0.9
