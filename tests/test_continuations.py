"""Slow work as a value (`Ctx.defer(Continue(...))`): the dispatcher runs it after the
event's commit and hands its result to the flow's step the way an event reaches one:
the person's flow state as it is by then, saved in one transaction, replies in order."""

from __future__ import annotations

import asyncio

from handlers.context import Continue, Ctx, ProgressFn
from handlers.dispatcher import Dispatcher, Outcome
from handlers.events import Incoming, Reply
from handlers.messages.ko import MESSAGES
from services.container import Services
from services.conversations import FlowState
from services.instagram.errors import InstagramError, RateLimited
from tests.support.chat_driver import Person

EVENT = Incoming(platform="console", chat_id="p1", chat_kind="private", user_id="p1",
                 user_name="tester", language_hint="ko")


async def slow(word: str) -> str:
    await asyncio.sleep(0)
    return word.upper()


async def refused(_word: str) -> str:
    raise RateLimited("wait", retry_after=60)


async def noted(notes: list[str], word: str) -> None:
    notes.append(word)


async def counted(total: int, progress: ProgressFn) -> int:
    for done in range(1, total + 1):
        await progress(f"{done}/{total}")
    return total


def meter(lang: str, show: ProgressFn) -> ProgressFn:
    async def shown(text: str) -> None:
        await show(f"[{lang}] {text}")
    return shown


async def first_step(ctx: Ctx, result: str, *, then_word: str) -> list[Reply]:
    """Moves the flow on and asks for more slow work in its turn."""
    ctx.goto("submit", "link", got=result)
    ctx.defer(Continue(slow, (then_word,), then=second_step))
    return [Reply(f"first {result}")]


async def second_step(ctx: Ctx, result: str) -> list[Reply]:
    data = ctx.state.data if ctx.state is not None else {}
    return [Reply(f"second {result} after {data.get('got')}")]


async def told(ctx: Ctx, result: object) -> list[Reply]:
    return [Reply(result.code if isinstance(result, InstagramError) else str(result))]


async def broken(ctx: Ctx, _result: str) -> list[Reply]:
    ctx.goto("submit", "link", broken=True)
    raise RuntimeError("a step that fails")


async def state_of(services: Services) -> tuple[str, str, dict] | None:
    async with services.transaction() as tx:
        state = await tx.conversations.load("console", "p1")
    return None if state is None else (state.flow, state.step, state.data)


async def test_results_come_back_in_order_and_the_step_saves_the_flow(
    dispatcher: Dispatcher, services: Services
) -> None:
    notes: list[str] = []
    outcome = Outcome(event=EVENT, deferred=[
        Continue(slow, ("one",), then=first_step, values={"then_word": "two"}),
        Continue(noted, (notes, "after both")),  # no step: its result is dropped
        Continue(slow, ("three",), then=told),
    ])
    replies = await dispatcher.finish(outcome)
    assert [r.text for r in replies] == ["first ONE", "second TWO after ONE", "THREE"]
    assert notes == ["after both"]
    assert await state_of(services) == ("submit", "link", {"got": "ONE"})
    assert outcome.deferred == []  # run once


async def test_a_step_sees_the_flow_the_person_is_in_by_then(
    dispatcher: Dispatcher, services: Services
) -> None:
    """The person moved on while the slow call ran: the step reads that flow, and a
    step that does not move it leaves it as it is."""
    await Person(dispatcher, "p1").say("안녕하세요")  # known from here on
    async with services.transaction() as tx:
        await tx.conversations.save("console", "p1", FlowState("submit", "link", {"n": 1}))
    replies = await dispatcher.finish(Outcome(event=EVENT, deferred=[
        Continue(slow, ("x",), then=second_step)]))
    assert [r.text for r in replies] == ["second X after None"]
    assert await state_of(services) == ("submit", "link", {"n": 1})


async def test_instagram_errors_reach_the_step_and_a_failing_step_changes_nothing(
    dispatcher: Dispatcher, services: Services
) -> None:
    replies = await dispatcher.finish(Outcome(event=EVENT, deferred=[
        Continue(refused, ("x",), then=told),
        Continue(slow, ("x",), then=broken),
        Continue(refused, ("x",), then=told, catch=()),  # not caught: the work fails
        Continue(slow, ("still runs",), then=told),
    ]))
    error = MESSAGES["common.error"]
    assert [r.text for r in replies] == ["rate_limited", error, error, "STILL RUNS"]
    assert await state_of(services) is None  # the failed step's goto was rolled back


async def test_progress_goes_to_the_transport_in_the_persons_language(
    dispatcher: Dispatcher
) -> None:
    shown: list[str] = []

    async def show(text: str) -> None:
        shown.append(text)

    replies = await dispatcher.finish(Outcome(event=EVENT, language="en", deferred=[
        Continue(counted, (2,), then=told, progress=meter, catch=())]), show)
    assert shown == ["[en] 1/2", "[en] 2/2"]
    assert [r.text for r in replies] == ["2"]
