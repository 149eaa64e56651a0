"""The helper pool over the simulated Instagram: rotation, cooldown, budget, outages."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from services.instagram.errors import (
    THROTTLE,
    BadCode,
    BadCredentials,
    CheckpointRequired,
    InstagramError,
    NetworkError,
    NoHelperAvailable,
    NotFound,
    PrivateProfile,
    RateLimited,
    TwoFactorRequired,
)
from services.instagram.pool import Helper, HelperPool
from services.instagram.simulated import SimConfig, SimulatedInstagram
from tests.support.instagram_pool import FakeTime, Stamped


def world(helpers: int = 3, **config: float) -> tuple[SimulatedInstagram, list[Helper]]:
    ig = SimulatedInstagram(SimConfig(**config))  # type: ignore[arg-type]
    for n in range(helpers):
        ig.add_account(f"helper{n}")
    ig.add_account("hana")
    ig.add_account("jun")
    ig.add_post("hana", "HANA0001", commenters=["jun", "Mina", "jun"])
    return ig, [Helper(f"helper{n}", ig.session_for(f"helper{n}")) for n in range(helpers)]


async def test_reads_rotate_least_recently_used_first() -> None:
    ig, helpers = world(3)
    pool = HelperPool(helpers)
    for _ in range(6):
        result = await pool.run(lambda s: ig.commenters(s, "HANA0001"))
        assert result.usernames == {"jun", "mina"} and result.complete
    assert Counter(actor for op, actor in ig.calls if op == "comments") == {
        "helper0": 2, "helper1": 2, "helper2": 2}


async def test_a_rate_limited_helper_cools_down_and_the_work_moves_on() -> None:
    ig, helpers = world(2)
    now = [1000.0]
    pool = HelperPool(helpers, clock=lambda: now[0], max_wait=0.05)
    ig.fail_call(1, RateLimited("429", retry_after=120, kind=THROTTLE))
    result = await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert result.usernames == {"jun", "mina"}
    first = pool.helpers["helper0"]
    assert first.status == "cooling" and first.cooldown_until == 1000.0 + 120
    # A second limit on the same helper doubles the backoff (at least the retry-after).
    now[0] += 121
    ig.fail_call(1, RateLimited("again", retry_after=1, kind=THROTTLE))
    await pool.run(lambda s: ig.commenters(s, "HANA0001"))  # helper0 is LRU again
    assert first.cooldown_until == now[0] + 120  # 60 s doubled


async def test_a_rate_limit_after_answered_requests_starts_the_backoff_again() -> None:
    ig, helpers = world(2)
    now = [1000.0]
    pool = HelperPool(helpers, clock=lambda: now[0], max_wait=0.05)
    first = pool.helpers["helper0"]
    first.strikes = 3  # three limits in a row before
    # After the info was answered:
    ig.fail_call(2, RateLimited("rate limited", retry_after=1, kind=THROTTLE))
    await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert first.strikes == 1 and first.cooldown_until == now[0] + 60


async def test_checkpoint_takes_a_helper_out_and_tells_the_admins() -> None:
    ig, helpers = world(2)
    told: list[tuple[str, str]] = []

    async def on_out(username: str, error: InstagramError) -> None:
        told.append((username, error.code))

    pool = HelperPool(helpers, on_out=on_out)
    ig.accounts["helper0"].checkpoint = True
    for _ in range(3):
        await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert told == [("helper0", "challenge")]
    assert pool.helpers["helper0"].status == "checkpoint" and pool.usable() == 1
    ig.expire_sessions("helper1")
    with pytest.raises(NoHelperAvailable):
        await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert told[-1] == ("helper1", "session_expired")


async def test_feedback_required_rests_a_helper_longer_each_time_and_tells_the_admins(
) -> None:
    from services.instagram.errors import ActionBlocked

    ig, helpers = world(2)
    told: list[tuple[str, str]] = []

    async def on_out(username: str, error: InstagramError) -> None:
        told.append((username, error.code))

    now = [1000.0]
    pool = HelperPool(helpers, on_out=on_out, clock=lambda: now[0])
    ig.fail_call(1, ActionBlocked("feedback_required", retry_after=6 * 3600))
    result = await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert result.usernames  # the read moved to the other helper
    blocked = pool.helpers["helper0"]
    assert told == [("helper0", "action_blocked")] and blocked.status == "cooling"
    assert blocked.cooldown_until - now[0] == 30 * 60  # half an hour at first
    # It comes back before a read of it went through: an hour, then two, ... (at most
    # what Instagram asked).
    now[0] = blocked.cooldown_until + 1
    ig.fail_call(1, ActionBlocked("feedback_required", retry_after=6 * 3600))
    with pytest.raises(NoHelperAvailable):  # no other helper may take it
        await pool.run(lambda s: ig.commenters(s, "HANA0001"), avoid=frozenset({"helper1"}),
                       max_wait=0.0)
    assert blocked.cooldown_until - now[0] == 3600 and len(told) == 2


async def test_the_hourly_budget_is_respected() -> None:
    # The budget counts requests: a read is the post's info and one page of comments.
    ig, helpers = world(2)
    pool = HelperPool(helpers, hourly_budget=4, max_wait=0.05)
    for _ in range(4):
        await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert Counter(actor for _, actor in ig.calls) == {"helper0": 4, "helper1": 4}
    with pytest.raises(NoHelperAvailable) as failure:
        await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert failure.value.ready_at is not None  # says when a helper is back


async def test_a_long_post_costs_every_page_of_the_budget() -> None:
    ig, helpers = world(1)
    ig.add_post("hana", "LONG0001", commenters=[f"fan{n}" for n in range(13 * 15)])
    pool = HelperPool(helpers, hourly_budget=20, max_wait=0.05)
    await pool.run(lambda s: ig.commenters(s, "LONG0001"))
    assert len(pool.helpers["helper0"].calls) == 14  # the info and 13 pages
    await pool.run(lambda s: ig.commenters(s, "HANA0001"))  # 14 < 20: allowed, now 16
    with pytest.raises(NoHelperAvailable):
        for _ in range(3):
            await pool.run(lambda s: ig.commenters(s, "HANA0001"))


async def test_one_operation_per_helper_at_a_time() -> None:
    ig, helpers = world(2, latency=0.02)
    pool = HelperPool(helpers)
    running: Counter[str] = Counter()
    most: Counter[str] = Counter()

    async def read(session: dict) -> None:
        who = session["username"]
        running[who] += 1
        most[who] = max(most[who], running[who])
        await ig.commenters(session, "HANA0001")
        running[who] -= 1

    await asyncio.gather(*(pool.run(read) for _ in range(8)))
    assert most == {"helper0": 1, "helper1": 1}


async def test_not_found_and_private_are_the_posts_fault_not_the_helpers() -> None:
    ig, helpers = world(1)
    ig.add_account("secret", private=True)
    ig.add_post("secret", "PRIV0001", commenters=["jun"])
    ig.posts["HANA0001"].gone = True
    pool = HelperPool(helpers)
    with pytest.raises(NotFound):
        await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    with pytest.raises(PrivateProfile):
        await pool.run(lambda s: ig.commenters(s, "PRIV0001"))
    assert pool.helpers["helper0"].status == "ready"


async def test_a_short_fetch_is_not_complete() -> None:
    ig, helpers = world(1)
    ig.posts["HANA0001"].hidden = 2  # Instagram counts 5 comments but lists 3
    result = await HelperPool(helpers).run(lambda s: ig.commenters(s, "HANA0001"))
    assert result.reported == 5 and not result.complete


async def test_all_pages_of_a_long_list_are_fetched() -> None:
    ig, helpers = world(1)
    for n in range(450):
        ig.add_account(f"fan{n}")
        ig.follow(f"fan{n}", "hana")
    seen: list[tuple[int, int]] = []
    result = await HelperPool(helpers).run(
        lambda s: ig.followers(s, "hana", progress=lambda got, total: seen.append((got, total))))
    assert len(result.usernames) == 450 and result.complete
    assert seen == [(200, 450), (400, 450), (450, 450)]


async def test_login_with_two_factor_and_checkpoint_codes() -> None:
    ig = SimulatedInstagram()
    ig.add_account("producer", password="pw", two_factor_code="123456")
    with pytest.raises(BadCredentials):
        await ig.login("producer", "wrong")
    with pytest.raises(TwoFactorRequired):
        await ig.login("producer", "pw")
    with pytest.raises(BadCode):
        await ig.submit_code("producer", "000000")
    done = await ig.submit_code("producer", "123456")
    assert await ig.restore(done.session) == "producer"
    ig.add_account("checked", password="pw", checkpoint=True)
    with pytest.raises(CheckpointRequired) as challenge:
        await ig.login("checked", "pw")
    assert challenge.value.needs_code
    done = await ig.submit_code("checked", ig.pending_code("checked") or "")
    assert await ig.restore(done.session) == "checked"


# --- pacing: every request admitted when it is sent, shares, throttle kinds ----------


def long_post(ig: SimulatedInstagram, shortcode: str, requests: int) -> None:
    """A post whose read takes `requests` requests: its info, then pages of 15."""
    ig.add_post("hana", shortcode, commenters=[f"fan{n}" for n in range((requests - 1) * 15)])


async def test_a_read_moves_to_the_next_helper_at_the_request_past_the_hour() -> None:
    from services.instagram.comment_pages import CommentRead

    clock = FakeTime()
    ig = Stamped(clock)
    helpers = []
    for name in ("helper0", "helper1"):
        ig.add_account(name)
        helpers.append(Helper(name, ig.session_for(name)))
    ig.add_account("hana")
    long_post(ig, "LONG0040", 40)
    pool = HelperPool(helpers, hourly_budget=150, clock=clock, max_wait=0.05)
    first = pool.helpers["helper0"]
    first.calls.extend([clock.now - 600] * 120)  # 30 left in its hour
    pool.helpers["helper1"].last_used = clock.now  # helper0 is the least recently used
    read = CommentRead()
    result = await pool.run(lambda s: ig.commenters(s, "LONG0040", read))
    assert result.complete and len(result.usernames) == 39 * 15
    sent = Counter(actor for _, actor in ig.calls)
    assert sent == {"helper0": 30, "helper1": 10}  # request 31 went out as helper1
    # The pool counted exactly what was sent: nothing before, nothing more.
    assert len(first.calls) - 120 == 30 and len(pool.helpers["helper1"].calls) == 10
    assert pool.used(first) == pool.hourly_budget


async def test_no_helper_ever_sends_more_than_its_budget_in_any_sliding_hour() -> None:
    from services.instagram.comment_pages import CommentRead

    clock = FakeTime()
    ig = Stamped(clock)
    names = ["helper0", "helper1"]
    for name in names:
        ig.add_account(name)
    ig.add_account("hana")
    for n, size in enumerate((2, 4, 7, 12, 25)):  # the last takes both helpers' hour
        long_post(ig, f"POST{n:04d}", size)
    budget, burst = 20, 4
    pool = HelperPool([Helper(n, ig.session_for(n)) for n in names], hourly_budget=budget,
                      clock=clock, burst=burst, sleep=clock.sleep, max_wait=0.0)
    started, reads, read = clock.now, 0, CommentRead()
    while clock.now < started + 4 * 3600:  # four hours of reads, one after the other
        try:  # a read cut by a spent hour goes on from there (as the verification's)
            await pool.run(lambda s, c=f"POST{reads % 5:04d}", r=read: ig.commenters(s, c, r))
            reads, read = reads + 1, CommentRead()
        except NoHelperAvailable as spent:  # both spent: the time they are back
            assert spent.ready_at is not None and spent.ready_at > clock.now
            clock.now = spent.ready_at
    assert reads >= 10  # about the two hours of budget they had, all used
    for name in names:
        times = ig.sent[name]
        assert len(times) == pool.used(pool.helpers[name]) + sum(
            1 for t in times if t <= clock.now - 3600)  # the pool counted every one
        for later, earlier in zip(times[budget:], times, strict=False):
            assert later - earlier >= 3600  # never budget + 1 in an hour
        # The bucket spreads the hour: past its burst, one request per 3600/budget s.
        for index in range(len(times)):
            window = [t for t in times if times[index] <= t < times[index] + 600]
            assert len(window) <= burst + 600 * budget / 3600 + 1


async def test_check_now_share_leaves_the_final_check_most_of_every_hour() -> None:
    from services.instagram.pool import ASKED_SHARE, FINAL_SHARE

    clock = FakeTime()
    ig = Stamped(clock)
    names = ["helper0", "helper1"]
    for name in names:
        ig.add_account(name)
    ig.add_account("hana")
    long_post(ig, "POST0007", 7)
    pool = HelperPool([Helper(n, ig.session_for(n)) for n in names], hourly_budget=150,
                      clock=clock, max_wait=0.0)
    with pytest.raises(NoHelperAvailable):
        for _ in range(100):  # members asking again and again
            await pool.run(lambda s: ig.commenters(s, "POST0007"), share=ASKED_SHARE)
    for name in names:
        assert len(ig.sent[name]) <= 0.3 * 150  # 70% of the hour is left
    final = 0
    with pytest.raises(NoHelperAvailable):
        for _ in range(100):
            await pool.run(lambda s: ig.commenters(s, "POST0007"), share=FINAL_SHARE)
            final += 7
    assert final >= 2 * 0.7 * 150 - 14 and all(len(ig.sent[n]) <= 150 for n in names)


async def test_please_wait_cools_15_minutes_then_30_and_a_bare_429_a_minute() -> None:
    from services.instagram.errors import PLEASE_WAIT

    ig, helpers = world(2)
    clock = FakeTime()
    pool = HelperPool(helpers, clock=clock, max_wait=0.05)
    first = pool.helpers["helper0"]
    ig.fail_call(1, RateLimited("Please wait a few minutes before you try again.",
                                kind=PLEASE_WAIT))
    assert (await pool.run(lambda s: ig.commenters(s, "HANA0001"))).usernames
    assert first.cooldown_until == clock.now + 15 * 60 and first.cooling_kind == PLEASE_WAIT
    clock.now = first.cooldown_until + 1
    pool.helpers["helper1"].last_used = clock.now  # helper0 asks first again
    ig.fail_call(1, RateLimited("Please wait a few minutes before you try again.",
                                kind=PLEASE_WAIT))
    await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert first.cooldown_until == clock.now + 30 * 60  # it came back: doubled
    clock.now = first.cooldown_until + 1
    await pool.run(lambda s: ig.commenters(s, "HANA0001"))  # a read of it goes through
    assert first.status == "ready" and first.strikes == 0
    second = pool.helpers["helper1"]
    ig.fail_call(1, RateLimited("429", retry_after=60, kind=THROTTLE))
    await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert second.cooldown_until == clock.now + 60 and second.cooling_kind == THROTTLE


async def test_back_from_a_throttle_a_helper_sends_one_request_then_the_steady_pace() -> None:
    clock = FakeTime()
    ig = Stamped(clock)
    ig.add_account("helper0")
    ig.add_account("hana")
    long_post(ig, "POST0005", 5)
    pool = HelperPool([Helper("helper0", ig.session_for("helper0"))], hourly_budget=150,
                      clock=clock, burst=8, sleep=clock.sleep, max_wait=0.0)
    await pool.run(lambda s: ig.commenters(s, "POST0005"))
    assert clock.waits == []  # a fresh helper's burst: five at once
    ig.fail_call(1, RateLimited("429", retry_after=60, kind=THROTTLE))
    with pytest.raises(NoHelperAvailable):
        await pool.run(lambda s: ig.commenters(s, "POST0005"))
    helper = pool.helpers["helper0"]
    clock.now = helper.cooldown_until + 3600  # long after: a full bucket it would be
    await pool.run(lambda s: ig.commenters(s, "POST0005"))
    assert len(clock.waits) == 4  # only the first went at once, the others one by one
    assert all(wait == pytest.approx(3600 / 150) for wait in clock.waits)
    assert not helper.probation  # the read went through: bursts again from now on


async def test_a_runs_allowance_stops_admission_before_a_request_is_sent() -> None:
    from services.instagram.errors import AllowanceSpent
    from services.instagram.gateway import CURRENT_METER, CallMeter

    ig, helpers = world(2)
    long_post(ig, "POST0030", 30)
    pool = HelperPool(helpers, max_wait=0.05)
    allowance = CallMeter(limit=12)
    token = CURRENT_METER.set(allowance)
    try:
        with pytest.raises(AllowanceSpent):
            await pool.run(lambda s: ig.commenters(s, "POST0030"))
        with pytest.raises(AllowanceSpent):  # the next read of the run does not start
            await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    finally:
        CURRENT_METER.reset(token)
    assert len(ig.calls) == 12 == allowance.requests
    assert sum(len(h.calls) for h in pool.helpers.values()) == 12
    assert all(h.status == "ready" for h in pool.helpers.values())


async def test_a_helper_removed_during_its_read_is_not_used_again() -> None:
    """An admin deletes a helper (or it logs in again as a new one) while it reads: its
    read ends as it would, and the next reads go to the helpers in the pool."""
    ig, helpers = world(2, latency=0.05)
    pool = HelperPool(helpers, max_wait=0.05)
    reading = asyncio.create_task(pool.run(lambda s: ig.commenters(s, "HANA0001")))
    await asyncio.sleep(0.01)  # helper0 is reading
    pool.remove("helper0")
    assert (await reading).usernames == {"jun", "mina"}
    for _ in range(3):
        await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert Counter(actor for op, actor in ig.calls if op == "comments") == {
        "helper0": 1, "helper1": 3}
    again = Helper("helper0", ig.session_for("helper0"))  # back, logged in afresh
    pool.add(again)
    await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert ig.calls[-1] == ("comments", "helper0") and pool.usable() == 2


async def test_a_read_waiting_for_a_busy_helper_takes_it_when_it_is_done() -> None:
    """Every helper busy: a read waits (it is load, not an outage) and goes on with the
    first helper whose read ends, however long max_wait is."""
    ig, helpers = world(1, latency=0.1)
    pool = HelperPool(helpers, max_wait=0.0)
    first = asyncio.create_task(pool.run(lambda s: ig.commenters(s, "HANA0001")))
    await asyncio.sleep(0.01)
    assert not pool.free_now()
    second = await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert second.complete and (await first).complete and pool.free_now()


async def test_a_read_waiting_is_handed_a_helper_back_from_a_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both helpers busy, a read waits. One's call fails on the network (a short rest):
    the read is handed that helper once its rest is over, not left waiting for the other
    helper's long read."""
    monkeypatch.setattr("services.instagram.pool.NETWORK_COOLDOWN", 0.2)
    pool = HelperPool([Helper("slow", {"username": "slow"}),
                       Helper("flaky", {"username": "flaky"})], max_wait=0.0)
    order: list[str] = []

    async def read(session: dict, seconds: float, fail: bool = False) -> str:
        await asyncio.sleep(seconds)
        if fail:
            raise NetworkError("timed out")
        order.append(session["username"])
        return str(session["username"])

    long_read = asyncio.create_task(pool.run(lambda s: read(s, 1.0)))
    await asyncio.sleep(0.01)
    failing = asyncio.create_task(pool.run(lambda s: read(s, 0.05, fail=True)))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(pool.run(lambda s: read(s, 0.0)))
    with pytest.raises(NetworkError):
        await failing
    assert await waiting == "flaky" and order == ["flaky"]  # before the long read ended
    assert await long_read == "slow"


async def test_a_read_waiting_for_an_avoided_helper_looks_again_when_none_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read that must not use one helper waits while the other is busy; when that one
    comes back resting, the read no longer waits on a busy helper: it waits out the rest
    within its max_wait, or is told no helper is available."""
    monkeypatch.setattr("services.instagram.pool.NETWORK_COOLDOWN", 0.2)
    pool = HelperPool([Helper("first", {"username": "first"}),
                       Helper("second", {"username": "second"})], max_wait=1.0)

    async def read(session: dict, seconds: float, fail: bool = False) -> str:
        await asyncio.sleep(seconds)
        if fail:
            raise NetworkError("timed out")
        return str(session["username"])

    failing = asyncio.create_task(pool.run(lambda s: read(s, 0.05, fail=True)))
    await asyncio.sleep(0.01)  # "first" is busy
    patient = asyncio.create_task(pool.run(lambda s: read(s, 0.0), avoid=frozenset({"second"})))
    hasty = asyncio.create_task(pool.run(lambda s: read(s, 0.0), avoid=frozenset({"second"}),
                                         max_wait=0.0))
    with pytest.raises(NetworkError):
        await failing
    with pytest.raises(NoHelperAvailable):
        await hasty
    assert await patient == "first"
