"""A submission's quick look at its post never waits for a helper's next token: with the
production pacing (a token bucket per helper) a helper whose bucket a check emptied is
not "free now", so the link is accepted at once and the check reads its author later,
instead of the member waiting up to 3600/budget seconds for the answer (found by the
chat-during-checks benchmark: Telegram links at 15 a second waited 20 s, idle)."""

from __future__ import annotations

from services.instagram.pool import ASKED_SHARE, Helper, HelperPool
from services.instagram.runtime import Instagram
from services.week.link_check import check_link
from services.week.post_links import PostLink, parse_post_link
from tests.support.instagram_pool import FakeTime, Stamped


def link(code: str) -> PostLink:
    parsed = parse_post_link(f"https://www.instagram.com/p/{code}/")
    assert isinstance(parsed, PostLink)
    return parsed


async def test_a_helper_with_an_empty_bucket_is_not_free_for_a_quick_look() -> None:
    clock = FakeTime()
    ig = Stamped(clock)
    ig.add_account("helper0")
    ig.add_post("hana", "POST0001")
    pool = HelperPool([Helper("helper0", ig.session_for("helper0"))], hourly_budget=150,
                      clock=clock, burst=2, sleep=clock.sleep, max_wait=0.0)
    for _ in range(2):  # the burst: two requests at once
        assert pool.free_now(share=ASKED_SHARE)
        await pool.run(lambda s: ig.post_info(s, "POST0001"), share=ASKED_SHARE)
    assert clock.waits == []
    assert not pool.free_now(share=ASKED_SHARE)  # its next token is 24 s away
    clock.now += 3600 / 150
    assert pool.free_now(share=ASKED_SHARE)


async def test_a_link_is_looked_at_by_a_helper_with_a_token_or_not_at_all() -> None:
    clock = FakeTime()
    ig = Stamped(clock)
    for name in ("helper0", "helper1"):
        ig.add_account(name)
    for code in ("POST0001", "POST0002", "POST0003"):
        ig.add_post("hana", code)
    instagram = Instagram(ig, hourly_budget=150, burst=1, clock=clock)
    pool = instagram.pool
    pool.sleep = clock.sleep
    instagram.sync({name: (ig.session_for(name), 0.0) for name in ("helper0", "helper1")})
    first = await check_link(instagram, link("POST0001"))  # helper0: its one token
    assert first.author == "hana"
    pool.helpers["helper1"].last_used = clock.now + 1  # used more recently, a token left
    second = await check_link(instagram, link("POST0002"))
    assert second.author == "hana" and clock.waits == []  # helper1, at once
    third = await check_link(instagram, link("POST0003"))
    assert third.info is None and clock.waits == []  # both buckets empty: no wait
    assert ig.sent == {"helper0": [clock.now], "helper1": [clock.now]}
