"""Reads kept in the database: a paused read goes on from its next page (also in a new
process), a post read through is read again only for its newer comments, a read stops
once everyone owed is found, a post whose comments cannot all be listed is not read
again by the re-checks after the deadline. Through the simulated Instagram, on the
real database (SQLite file, or PostgreSQL by TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.container import Services
from services.instagram.comment_pages import CommentRead
from services.instagram.runtime import Instagram
from services.instagram.simulated import COMMENTS_PAGE, SimulatedInstagram
from services.sample_community import SampleCommunity, build
from services.verification.verifier import CommenterCache, Verifier
from services.week.calendar import Week
from storage.models import Member, PostRead, Submission, Verification
from tests.conftest import Clock
from tests.support.verification import NOW as WEDNESDAY


async def world(services: Services, sim: SimulatedInstagram, clock: Clock, members: int
                ) -> tuple[SampleCommunity, Week]:
    """A week of `members` posts, nobody has commented yet, one helper; it is Wednesday."""
    clock.now = WEDNESDAY
    week = Week.containing(WEDNESDAY, services.rules.timezone)
    async with services.transaction() as tx:
        community = await build(tx.session, sim, week, members=members, posts_each=1,
                                comment_rate=0.0)
        await tx.helpers.load_pool()
    return community, week


def verifier(services: Services, instagram: Instagram, clock: Clock) -> Verifier:
    """A verifier as a freshly started process has it: nothing in memory."""
    return Verifier(services.sessions, instagram, CommenterCache(), clock=clock)


def pages_asked(sim: SimulatedInstagram, monkeypatch: pytest.MonkeyPatch
                ) -> list[tuple[str, dict[str, str]]]:
    """(shortcode, cursor params) of every page of comments served, in order."""
    asked: list[tuple[str, dict[str, str]]] = []
    page = sim._page

    def spied(post: Any, params: dict[str, str]) -> dict[str, object]:
        asked.append((post.shortcode, {k: v for k, v in params.items()
                                       if k in ("max_id", "min_id")}))
        return page(post, params)

    monkeypatch.setattr(sim, "_page", spied)
    return asked


async def verdicts(services: Services, shortcode: str) -> dict[str, str]:
    async with services.transaction() as tx:
        rows = await tx.session.execute(
            select(Member.instagram_username, Verification.status)
            .join(Verification, Verification.member_id == Member.id)
            .join(Submission, Submission.id == Verification.submission_id)
            .where(Submission.shortcode == shortcode))
        return dict(rows.tuples().all())


async def kept(services: Services, shortcode: str) -> PostRead | None:
    async with services.transaction() as tx:
        return await tx.session.scalar(
            select(PostRead).join(Submission, Submission.id == PostRead.submission_id)
            .where(Submission.shortcode == shortcode))


def fans(code: str, count: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"fan{n}.{code.lower()}", "👍") for n in range(start, start + count)]


def cooled(sim: SimulatedInstagram, instagram: Instagram, calls_per_hour: int = 10_000
           ) -> None:
    """An hour later: the helpers' limits on Instagram are new, their cooldowns over."""
    sim._calls.clear()
    sim.config.calls_per_hour = calls_per_hour
    for helper in instagram.pool.helpers.values():
        helper.status, helper.cooldown_until, helper.strikes = "ready", 0.0, 0


async def test_a_paused_read_goes_on_from_its_next_page_in_a_new_process(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    community, week = await world(services, simulated, clock, members=2)
    code, (owner, _) = next(iter(community.posts.items()))
    other = next(m for m in community.members if m != owner)
    simulated.posts[code].comments = fans(code, 5 * COMMENTS_PAGE)  # five pages
    simulated.posts[next(c for c in community.posts if c != code)].comments = []
    asked = pages_asked(simulated, monkeypatch)
    cooled(simulated, instagram, 3)  # Instagram answers the post's info and two pages
    report = await verifier(services, instagram, clock).run(week, services.rules)
    assert report.paused and [c for c, _ in asked].count(code) == 2
    row = await kept(services, code)
    assert row is not None and not row.finished and row.read_at is not None
    # The next process reads pages 3 to 5 (each once: no cursor asked twice, the first
    # page not again) and then only what is newer than the newest comment it holds.
    first_run = list(asked)
    cooled(simulated, instagram)
    calls = len(simulated.calls)
    report = await verifier(services, instagram, clock).run(week, services.rules)
    mine = [params for c, params in asked[len(first_run):] if c == code]
    before = [params for c, params in first_run if c == code]
    assert len(mine) == 4 and all("max_id" in p and p not in before for p in mine[:3])
    assert "min_id" in mine[3]  # comments made since it paused: none
    # The info asked once: the other post's first read (not this one's again).
    assert [op for op, _ in simulated.calls[calls:]].count("info") == 1
    assert not report.paused and code not in report.incomplete
    assert (await verdicts(services, code))[other] == "missing"  # every page: complete
    row = await kept(services, code)
    assert row is not None and row.finished and row.seen == row.reported == 5 * COMMENTS_PAGE


async def test_a_read_taken_up_again_twice_asks_what_is_newer_each_time(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read paused twice (a long reply thread, a busy helper) asks each time it is
    taken up what was commented since: a member who commented between the second and
    the third run is "done", never "missing" on the count the second run saw."""
    community, week = await world(services, simulated, clock, members=2)
    code, (owner, _) = next(iter(community.posts.items()))
    other = next(m for m in community.members if m != owner)
    post = simulated.posts[code]
    post.comments = fans(code, 3)
    post.replies = {0: fans(code, 20, start=10)}  # four pages of replies under the first
    simulated.posts[next(c for c in community.posts if c != code)].comments = []
    asked = pages_asked(simulated, monkeypatch)
    cooled(simulated, instagram, 3)  # this post's info, its page and a page of replies
    report = await verifier(services, instagram, clock).run(week, services.rules)
    assert report.paused
    # The other post (never read: first), then what is newer here (nothing yet) and one
    # more page of replies.
    cooled(simulated, instagram, 4)
    report = await verifier(services, instagram, clock).run(week, services.rules)
    assert report.paused and "min_id" in [p for c, p in asked if c == code][-1]
    row = await kept(services, code)
    assert row is not None and not row.finished
    post.comments.append((other, "좋아요!"))  # commented after the second run
    clock.now = WEDNESDAY + timedelta(hours=2)
    cooled(simulated, instagram)
    before = len(asked)
    await verifier(services, instagram, clock).run(week, services.rules)
    assert any("min_id" in params for c, params in asked[before:] if c == code)
    assert (await verdicts(services, code))[other] == "done"


async def test_a_post_read_through_is_read_again_only_for_its_new_comments(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, clock: Clock,
) -> None:
    community, week = await world(services, simulated, clock, members=5)
    code, (owner, _) = next(iter(community.posts.items()))
    simulated.posts[code].comments = fans(code, 3 * COMMENTS_PAGE)
    cooled(simulated, instagram)
    await verifier(services, instagram, clock).run(week, services.rules)
    owers = [m for m in community.members if m != owner]
    assert set((await verdicts(services, code)).values()) == {"missing"}  # a mid-week to-do
    for member in owers[:3]:
        simulated.posts[code].comments.append((member, "좋아요!"))
    calls = len(simulated.calls)
    clock.now += timedelta(hours=3)
    await verifier(services, instagram, clock).run(week, services.rules, only_open=True)
    mine = simulated.calls[calls:]
    # Five posts open: each is read for what is newer than what it holds (one request).
    assert len(mine) == len(community.posts) and {op for op, _ in mine} == {"comments"}
    found = await verdicts(services, code)
    assert {m: found[m] for m in owers} == {owers[0]: "done", owers[1]: "done",
                                            owers[2]: "done", owers[3]: "missing"}
    row = await kept(services, code)
    assert row is not None and row.seen == row.reported == 3 * COMMENTS_PAGE + 3


async def test_a_count_that_does_not_add_up_after_the_cutoff_reads_every_page(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, clock: Clock,
) -> None:
    community, week = await world(services, simulated, clock, members=4)
    code, (owner, _) = next(iter(community.posts.items()))
    stays_out, replies_late, commented = [m for m in community.members if m != owner]
    post = simulated.posts[code]
    post.comments = [(commented, "좋아요!"), *fans(code, 2 * COMMENTS_PAGE)]
    cooled(simulated, instagram)
    await verifier(services, instagram, clock).run(week, services.rules)
    assert (await verdicts(services, code))[commented] == "done"
    # Meanwhile three fans deleted their comments, and one member answered the oldest
    # comment's thread (a reply in an old thread: on no newer page, and not the one
    # reply sent with the comment).
    del post.comments[5:8]
    post.replies = {0: [("fan.reply", "ㅋㅋ"), (replies_late, "저도요!")]}
    calls = len(simulated.calls)
    clock.now = services.rules.comment_cutoff(week) - timedelta(hours=1)
    await verifier(services, instagram, clock).run(week, services.rules, only_open=True)
    mid_week = [op for op, _ in simulated.calls[calls:]]
    found = await verdicts(services, code)
    # Mid-week it does not go on: a "missing" then is only a to-do, and the list may
    # lack someone (the count went down by one with nothing new: it does not add up).
    assert found[replies_late] in ("missing", "unknown") and found[stays_out] == "missing"
    assert len(mid_week) == len(community.posts)
    calls = len(simulated.calls)
    clock.now = services.rules.comment_cutoff(week) + timedelta(hours=1)
    report = await verifier(services, instagram, clock).run(week, services.rules,
                                                            only_open=True)
    after = [op for op, _ in simulated.calls[calls:]]
    found = await verdicts(services, code)
    assert found[replies_late] == "done" and found[stays_out] == "missing"
    assert code not in report.incomplete
    # The newer-only page, then every page of the post (no info), then the thread.
    pages = -(-len(post.comments) // COMMENTS_PAGE)
    assert after.count("info") == 0 and after.count("replies") == 1
    assert after.count("comments") == 1 + pages + (len(community.posts) - 1)
    async with services.transaction() as tx:
        when = await tx.session.scalar(
            select(Verification.checked_at).join(Member, Member.id == Verification.member_id)
            .join(Submission, Submission.id == Verification.submission_id)
            .where(Submission.shortcode == code, Member.instagram_username == stays_out))
    assert when == clock.now  # a "missing" read after the cutoff: it counts


async def test_a_read_stops_once_everyone_owed_is_found(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    community, week = await world(services, simulated, clock, members=3)
    code, (owner, _) = next(iter(community.posts.items()))
    owers = [m for m in community.members if m != owner]
    post = simulated.posts[code]
    post.comments = [*fans(code, 4 * COMMENTS_PAGE - 2), *((m, "좋아요!") for m in owers)]
    asked = pages_asked(simulated, monkeypatch)
    cooled(simulated, instagram)
    await verifier(services, instagram, clock).run(week, services.rules)
    assert [c for c, _ in asked].count(code) == 1  # page 1 of 4
    assert await verdicts(services, code) == dict.fromkeys(owers, "done")
    row = await kept(services, code)  # kept, to go on from (an appeal, a later read)
    assert row is not None and not row.finished
    state = CommentRead.from_state(json.loads(row.state or "{}"))
    assert state.next_request() is not None


async def test_a_post_with_hidden_comments_is_not_reread_after_the_deadline(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    community, week = await world(services, simulated, clock, members=3)
    code, (owner, _) = next(iter(community.posts.items()))
    member = next(m for m in community.members if m != owner)
    post = simulated.posts[code]
    post.comments = fans(code, 3)
    post.hidden = 2  # counted by Instagram, never listed
    cooled(simulated, instagram)
    asked = pages_asked(simulated, monkeypatch)
    clock.now = services.rules.comment_cutoff(week) + timedelta(hours=1)
    await verifier(services, instagram, clock).run(week, services.rules, only_open=True)
    assert (await verdicts(services, code))[member] == "unknown"
    assert [c for c, _ in asked].count(code) == 1
    row = await kept(services, code)
    assert row is not None and row.finished and row.seen == 3 and row.reported == 5
    # The daily re-check (and the final check) leave it: nothing a read shows settles it.
    clock.now += timedelta(days=1)
    asked.clear()
    await verifier(services, instagram, clock).run(week, services.rules, only_open=True)
    assert code not in [c for c, _ in asked]
    # A member's own check, an appeal or /verify still read it.
    async with services.transaction() as tx:
        member_id = await tx.session.scalar(select(Member.id).where(
            Member.instagram_username == member))
    await verifier(services, instagram, clock).run(week, services.rules, member_id=member_id)
    assert code in [c for c, _ in asked]
    asked.clear()
    await verifier(services, instagram, clock).run(week, services.rules)
    assert code in [c for c, _ in asked]


async def test_a_read_cut_by_the_run_ending_is_kept_with_what_it_found(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run is cancelled (a job's time is up) in the middle of a long read: the pages
    it read are kept and the member it found is "done"; the next run goes on."""
    community, week = await world(services, simulated, clock, members=3)
    code, (owner, _) = next(iter(community.posts.items()))
    found, absent = [m for m in community.members if m != owner]
    post = simulated.posts[code]
    post.comments = [*fans(code, 5 * COMMENTS_PAGE), (found, "좋아요!")]  # on page 1
    for other in community.posts:
        if other != code:
            simulated.posts[other].comments = []
    asked = pages_asked(simulated, monkeypatch)
    cooled(simulated, instagram)
    third = asyncio.Event()
    page = simulated._page

    def slow_after_two(post: Any, params: dict[str, str]) -> dict[str, object]:
        if [c for c, _ in asked].count(code) == 2:
            third.set()
        return page(post, params)

    simulated.config.latency = 0.05
    monkeypatch.setattr(simulated, "_page", slow_after_two)
    run = asyncio.create_task(verifier(services, instagram, clock).run(week, services.rules))
    await third.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    row = await kept(services, code)
    assert row is not None and not row.finished and row.read_at is not None
    verdict = await verdicts(services, code)
    assert verdict[found] == "done" and verdict.get(absent, "unknown") == "unknown"
    simulated.config.latency = 0.0
    before = [p for c, p in asked if c == code]
    await verifier(services, instagram, clock).run(week, services.rules)
    again = [p for c, p in asked if c == code][len(before):]
    assert {} not in again  # the first page is not read again
    assert (await verdicts(services, code))[absent] == "missing"
