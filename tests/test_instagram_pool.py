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
    NoHelperAvailable,
    NotFound,
    PrivateProfile,
    RateLimited,
    TwoFactorRequired,
)
from services.instagram.pool import Helper, HelperPool
from services.instagram.simulated import SimConfig, SimulatedInstagram


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


async def test_feedback_required_stops_a_helper_for_hours_and_tells_the_admins() -> None:
    from services.instagram.errors import ActionBlocked

    ig, helpers = world(2)
    told: list[tuple[str, str]] = []

    async def on_out(username: str, error: InstagramError) -> None:
        told.append((username, error.code))

    pool = HelperPool(helpers, on_out=on_out)
    ig.fail_call(1, ActionBlocked("feedback_required", retry_after=6 * 3600))
    result = await pool.run(lambda s: ig.commenters(s, "HANA0001"))
    assert result.usernames  # the read moved to the other helper
    blocked = pool.helpers["helper0"]
    assert told == [("helper0", "action_blocked")] and blocked.status == "cooling"
    assert blocked.cooldown_until - pool.clock() > 5 * 3600


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
