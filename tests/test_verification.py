"""The weekly verification against the simulated Instagram, with a known ground truth."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.container import Services
from services.instagram.errors import NetworkError, NotFound, PrivateProfile, RateLimited
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from services.sample_community import SampleCommunity
from services.verification.verifier import CommenterCache, Verifier, posts_to_check
from services.week.calendar import Week
from storage.models import Member, PostRead, Submission, Verification
from tests.conftest import Clock
from tests.support.verification import NOW, verdicts, verifier, world


def check_against_truth(community: SampleCommunity, found: dict[tuple[str, str], str],
                        *, allow_unknown: bool) -> int:
    """Every determinable verdict equals the truth; returns how many were unknown."""
    unknown = 0
    for shortcode, (owner, _) in community.posts.items():
        for member in community.members:
            if member == owner:
                assert (member, shortcode) not in found  # nobody owes their own post
                continue
            verdict = found.get((member, shortcode), "unknown")  # no row: not checked yet
            if verdict == "unknown":
                assert allow_unknown, (member, shortcode)
                unknown += 1
            else:
                expected = "done" if community.commented(member, shortcode) else "missing"
                assert verdict == expected, (member, shortcode)
    return unknown


@pytest.mark.parametrize("members", [3, 30, 300])
async def test_every_verdict_equals_the_truth(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, members: int
) -> None:
    # 300 members: ~4,000 pages of comments, more than 3 helpers may read in an hour.
    simulated.config.calls_per_hour = instagram.pool.hourly_budget = 100_000
    community, week = await world(services, simulated, members,
                                  posts_each=1 if members == 300 else 2, helpers=3)
    report = await verifier(services, instagram).run(week, services.rules)
    found = await verdicts(services)
    assert check_against_truth(community, found, allow_unknown=False) == 0
    assert report.posts == len(community.posts) and report.fetched == report.posts
    # One request per page of comments per post, and nothing more.
    pages = sum(max(1, -(-len(c) // 15)) for _, c in community.posts.values())
    assert len([c for c in simulated.calls if c[0] == "comments"]) == pages
    # The report counts every request: the pages and one info request per post.
    assert report.requests == len(simulated.calls) == pages + report.posts


@pytest.mark.parametrize("members", [3, 30, 300])
async def test_faults_make_unknowns_never_wrong_verdicts(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram, members: int
) -> None:
    simulated.config.calls_per_hour = instagram.pool.hourly_budget = 100_000
    community, week = await world(services, simulated, members, helpers=2,
                                  posts_each=1 if members == 300 else 2)
    simulated.fail_share(0.3, NetworkError)
    report = await verifier(services, instagram).run(week, services.rules)
    found = await verdicts(services)
    unknown = check_against_truth(community, found, allow_unknown=True)
    assert unknown >= report.verdicts["unknown"] > 0 and report.failed
    # The faults pass; a refresh of the open rows settles every unknown.
    simulated.fail_share(0)
    for helper in instagram.pool.helpers.values():
        helper.cooldown_until = 0
    await verifier(services, instagram).run(week, services.rules, only_open=True)
    assert check_against_truth(community, await verdicts(services), allow_unknown=False) == 0


async def test_a_long_post_stopped_half_way_goes_on_from_the_page_that_failed(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    # A post of 64 comments (5 pages): a rate limit on its 4th page, then Instagram stops
    # answering one call in the middle of the next attempt. The read moves to the next
    # helper each time and goes on; nothing already read is asked again.
    community, week = await world(services, simulated, 2, posts_each=1, helpers=3,
                                  comments_each=63)
    first, other = community.posts
    async with services.transaction() as tx:  # one post to read, so the calls are in order
        await tx.session.execute(update(Submission).where(Submission.shortcode == other)
                                 .values(status="withdrawn"))
    simulated.fail_call(4, RateLimited("Please wait", retry_after=60))
    simulated.fail_call(6, NetworkError("read timed out"))
    report = await verifier(services, instagram).run(week, services.rules, patience=0.5)
    found = await verdicts(services)
    owner, commenters = community.posts[first]
    assert {m: v for (m, code), v in found.items() if code == first} == {
        m: "done" if m in commenters else "missing" for m in community.members if m != owner}
    assert report.requests == len(simulated.calls) == 1 + 5 + 2  # info, pages, two failed
    assert [op for op, _ in simulated.calls].count("info") == 1
    assert len({helper for _, helper in simulated.calls}) == 3


async def test_a_short_fetch_is_unknown_not_missing(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 4, posts_each=1)
    shortcode = next(iter(community.posts))
    simulated.posts[shortcode].hidden = 2  # Instagram counts comments it does not list
    report = await verifier(services, instagram).run(week, services.rules)
    found = await verdicts(services)
    owner, commenters = community.posts[shortcode]
    for member in community.members:
        if member != owner:
            assert found[(member, shortcode)] == ("done" if member in commenters else "unknown")
    assert report.incomplete == [shortcode]


async def statuses(services: Services) -> dict[str, str]:
    async with services.transaction() as tx:
        return dict((await tx.session.execute(
            select(Submission.shortcode, Submission.status))).all())


async def post_row(services: Services, shortcode: str) -> Submission:
    async with services.transaction() as tx:
        row = await tx.session.scalar(select(Submission).where(Submission.shortcode == shortcode))
        assert row is not None
        return row


def timed_verifier(services: Services, instagram: Instagram, clock: Clock) -> Verifier:
    """A verifier whose writes (and the hours between "not found" answers) go by `clock`."""
    return Verifier(services.sessions, instagram, CommenterCache(), clock=clock)


async def owed_posts(services: Services, week: Week) -> set[str]:
    async with services.transaction() as tx:
        results = await tx.progress.week_results(week)
    return {item.shortcode for m in results.members for item in m.todo}


async def unhealthy(instagram: Instagram, simulated: SimulatedInstagram, helper: str) -> None:
    """One of `helper`'s reads fails on the network (its next reads are no evidence);
    its short cooldown is over at once."""
    simulated.fail_call(1, NetworkError("read timed out"))
    with pytest.raises(NetworkError):
        await instagram.pool.run(simulated.restore, avoid=frozenset(
            set(instagram.pool.helpers) - {helper}))
    assert not instagram.pool.healthy(helper)
    instagram.pool.helpers[helper].cooldown_until = 0


async def healthy(instagram: Instagram, simulated: SimulatedInstagram, helper: str) -> None:
    """One of `helper`'s reads goes through again."""
    await instagram.pool.run(simulated.restore, avoid=frozenset(
        set(instagram.pool.helpers) - {helper}))
    assert instagram.pool.healthy(helper)


async def test_a_private_post_is_private_until_its_account_is_public_again(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 4, posts_each=1, helpers=2)
    first, *_ = community.posts
    owner = community.posts[first][0]
    simulated.accounts[owner].private = True
    clock = Clock(NOW)
    check = timed_verifier(services, instagram, clock)
    report = await check.run(week, services.rules)
    url = f"https://www.instagram.com/p/{first}/"
    # Private is not gone: the post stays handed in, its verdicts unknown, owed by nobody.
    assert report.private == [(url, owner)] and report.gone == []
    assert (await statuses(services))[first] == "private"
    found = await verdicts(services)
    assert {v for k, v in found.items() if k[1] == first} == {"unknown"}
    assert first not in await owed_posts(services, week)
    # Hours and days later, by both helpers: still private (told once), never gone.
    for hours in (7, 14, 30):
        clock.now = NOW + timedelta(hours=hours)
        report = await check.run(week, services.rules)
        assert report.private == [] and report.gone == []
        assert (await statuses(services))[first] == "private"
    assert (await post_row(services, first)).not_found_at is None
    # Public again: read as any other post, every verdict settled.
    simulated.accounts[owner].private = False
    clock.now = NOW + timedelta(hours=31)
    await check.run(week, services.rules)
    assert (await statuses(services))[first] == "active"
    assert check_against_truth(community, await verdicts(services), allow_unknown=False) == 0


async def test_a_deleted_post_is_gone_only_when_two_helpers_say_so_hours_apart(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 4, posts_each=1, helpers=2)
    first, *_ = community.posts
    simulated.posts[first].gone = True
    clock = Clock(NOW)
    check = timed_verifier(services, instagram, clock)
    report = await check.run(week, services.rules)
    # Both helpers said "not found" in the same second: no more proof than one answer.
    assert report.gone == [] and report.failed == {first: "not_found_once"}
    assert (await statuses(services))[first] == "active"
    found = await verdicts(services)
    assert {v for k, v in found.items() if k[1] == first} == {"unknown"}
    row = await post_row(services, first)
    assert row.not_found_at == NOW and row.not_found_by == "helper.1 helper.2"
    # Minutes later, and hours later but short of six: still not gone.
    for later in (timedelta(minutes=3), timedelta(hours=5, minutes=59)):
        clock.now = NOW + later
        report = await check.run(week, services.rules)
        assert report.gone == [] and report.failed == {first: "not_found_once"}
        assert (await statuses(services))[first] == "active"
    assert (await post_row(services, first)).not_found_at == NOW  # the first answer's time
    # Six hours after the first answer: gone, and owed by nobody.
    clock.now = NOW + timedelta(hours=6)
    report = await check.run(week, services.rules)
    assert report.gone == [(f"https://www.instagram.com/p/{first}/", community.posts[first][0],
                            "not_found")]
    assert (await statuses(services))[first] == "gone"
    assert first not in await owed_posts(services, week)


async def test_one_helper_alone_is_enough_only_when_it_is_the_only_one(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 3, posts_each=1)  # one helper
    first, *_ = community.posts
    simulated.posts[first].gone = True
    clock = Clock(NOW)
    check = timed_verifier(services, instagram, clock)
    await check.run(week, services.rules)
    clock.now = NOW + timedelta(hours=6)
    report = await check.run(week, services.rules)
    assert [code for _, _, code in report.gone] == ["not_found"]


async def test_a_helper_whose_other_reads_fail_gives_no_evidence(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 4, posts_each=1, helpers=2)
    first, *others = community.posts
    async with services.transaction() as tx:  # the deleted post is the only one read
        await tx.session.execute(update(Submission).where(Submission.shortcode.in_(others))
                                 .values(status="withdrawn"))
    simulated.posts[first].gone = True
    clock = Clock(NOW)
    check = timed_verifier(services, instagram, clock)
    # Both helpers' calls are failing (a proxy, the network): after each "not found" the
    # bot asks for the helper's own account, which fails too: days apart, no evidence.
    for hours in (0, 7, 30):
        for helper in ("helper.1", "helper.2"):
            instagram.pool.helpers[helper].cooldown_until = 0  # the last probe's rest
            await unhealthy(instagram, simulated, helper)
        simulated.fail_call(2, NetworkError("read timed out"))  # the first helper's account
        simulated.fail_call(4, NetworkError("read timed out"))  # the second one's
        clock.now = NOW + timedelta(hours=hours)
        report = await check.run(week, services.rules)
        assert report.failed == {first: "not_found_once"} and report.gone == []
        assert [op for op, _ in simulated.calls[-4:]] == [
            "info", "account_info", "info", "account_info"]  # both answered, both asked
    assert (await post_row(services, first)).not_found_at is None
    # helper.1's calls go through again: only its answer is kept, whichever read first
    # (helper.2, used less recently, reads first; its own account still fails).
    for helper in ("helper.1", "helper.2"):
        instagram.pool.helpers[helper].cooldown_until = 0
    await healthy(instagram, simulated, "helper.1")
    simulated.fail_call(2, NetworkError("read timed out"))
    clock.now = NOW + timedelta(hours=31)
    await check.run(week, services.rules)
    row = await post_row(services, first)
    assert row.not_found_at == clock.now and row.not_found_by == "helper.1"
    # Six hours later helper.2 still fails elsewhere: one helper's word is not enough.
    instagram.pool.helpers["helper.2"].cooldown_until = 0
    simulated.fail_call(2, NetworkError("read timed out"))
    clock.now = NOW + timedelta(hours=37)
    report = await check.run(week, services.rules)
    assert report.gone == [] and (await statuses(services))[first] == "active"
    instagram.pool.helpers["helper.2"].cooldown_until = 0
    # Its reads go through again: its "not found" now counts, and the post is gone.
    await healthy(instagram, simulated, "helper.2")
    clock.now = NOW + timedelta(hours=38)
    await check.run(week, services.rules)
    assert (await statuses(services))[first] == "gone"


async def test_a_post_seen_again_starts_the_hours_over(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 4, posts_each=1, helpers=2)
    first, *_ = community.posts
    post = simulated.posts[first]
    post.gone = True
    clock = Clock(NOW)
    check = timed_verifier(services, instagram, clock)
    await check.run(week, services.rules)
    # Three hours later Instagram shows it again: the "not found" answers were passing.
    post.gone = False
    clock.now = NOW + timedelta(hours=3)
    report = await check.run(week, services.rules)
    assert first not in report.failed
    assert (await post_row(services, first)).not_found_at is None
    # Not found again at 6 and 11 hours: less than six hours since the last sighting's end.
    post.gone = True
    for hours in (6, 11):
        clock.now = NOW + timedelta(hours=hours)
        report = await check.run(week, services.rules)
        assert report.gone == [] and (await statuses(services))[first] == "active"
    clock.now = NOW + timedelta(hours=12)
    await check.run(week, services.rules)
    assert (await statuses(services))[first] == "gone"
    # A passing "not found" (one read) settles in the run that met it.
    second = list(community.posts)[1]
    simulated.posts[second].not_found_reads = 1
    report = await verifier(services, instagram).run(week, services.rules)
    assert second not in report.failed and (await statuses(services))[second] == "active"
    found = await verdicts(services)
    assert "unknown" not in {v for k, v in found.items() if k[1] == second}


async def test_all_helpers_stopped_pauses_the_run(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 6, helpers=2)
    for helper in community.helpers:
        simulated.accounts[helper].checkpoint = True
    report = await verifier(services, instagram).run(week, services.rules)
    assert report.paused and report.helpers_out == community.helpers
    # Two checkpoint answers, then nothing more is asked of Instagram.
    assert len(simulated.calls) == 2
    assert "missing" not in (await verdicts(services)).values()


async def test_rate_limits_move_the_work_to_another_helper(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 10, helpers=3)
    simulated.fail_call(2, RateLimited("Please wait a few minutes", retry_after=60))
    simulated.fail_call(5, NotFound("Media not found or unavailable"))
    report = await verifier(services, instagram).run(week, services.rules)
    found = await verdicts(services)
    assert "missing" in found.values()  # the run went on
    # The passing "not found" was read again by another helper: nothing is gone.
    assert report.gone == [] and check_against_truth(community, found, allow_unknown=False) == 0


async def test_check_now_reuses_the_cached_commenters(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram
) -> None:
    community, week = await world(services, simulated, 5, helpers=1)
    check = verifier(services, instagram)
    await check.run(week, services.rules, use_cache=True)
    before = len(simulated.calls)
    async with services.transaction() as tx:
        minji = await tx.session.scalar(select(Member.id).where(
            Member.instagram_username == community.members[0]))
    report = await check.run(week, services.rules, member_id=minji, use_cache=True)
    assert len(simulated.calls) == before and report.from_cache == report.posts > 0
    simulated.fail_share(1.0, PrivateProfile)  # a cache miss would now fail; it is not asked
    await check.run(week, services.rules, member_id=minji, use_cache=True)


async def test_two_checks_at_once_write_together_and_agree_with_the_truth(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram,
    engine: AsyncEngine,
) -> None:
    """The final check and an admin's check now, reading the same week at the same time:
    posts whose reads finish together are written in one transaction, a post read by
    both is written twice, never twice in one statement, and both reports add up."""
    simulated.config.calls_per_hour = instagram.pool.hourly_budget = 100_000
    community, week = await world(services, simulated, 30, helpers=3)
    commits = []
    event.listen(engine.sync_engine, "commit", lambda _connection: commits.append(1))
    check = verifier(services, instagram)
    final, now = await asyncio.gather(check.run(week, services.rules),
                                      check.run(week, services.rules))
    assert check_against_truth(community, await verdicts(services), allow_unknown=False) == 0
    owed = sum(len(community.members) - 1 for _ in community.posts)
    for report in (final, now):
        assert report.fetched == len(community.posts)
        assert sum(report.verdicts.values()) == owed
    # Two runs of 60 posts each (one transaction a post would be 120, and the reads of
    # the week two more): a handful.
    assert len(commits) < len(community.posts)


def spy_reads(simulated: SimulatedInstagram, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The shortcodes whose comments are read, in the order their reads start."""
    read: list[str] = []
    commenters = simulated.commenters

    async def spied(session: dict, shortcode: str, *args: object) -> object:
        read.append(shortcode)
        return await commenters(session, shortcode, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(simulated, "commenters", spied)
    return read


async def set_verdicts(services: Services, shortcode: str, status: str | None,
                       members: list[str] | None = None) -> None:
    """Rewrite a post's verdicts (of `members`, or all): None deletes them (never read)."""
    async with services.transaction() as tx:
        post = await tx.session.scalar(select(Submission.id).where(
            Submission.shortcode == shortcode))
        rows = Verification.submission_id == post
        if members is not None:
            rows &= Verification.member_id.in_(select(Member.id).where(
                Member.instagram_username.in_(members)))
        if status is None:
            await tx.session.execute(delete(Verification).where(rows))
        else:
            await tx.session.execute(update(Verification).where(rows).values(status=status))


async def test_check_now_and_the_refresh_read_only_the_open_debts(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database works out the open debts: a member's check reads that member's open
    posts, owed by that member alone; the refresh reads the posts someone still owes,
    owed by exactly those without a "done" (never a late joiner, never a suspended one)."""
    simulated.config.calls_per_hour = instagram.pool.hourly_budget = 100_000
    community, week = await world(services, simulated, 8, posts_each=1)
    await verifier(services, instagram).run(week, services.rules)
    codes = list(community.posts)
    members = community.members
    await set_verdicts(services, codes[0], "done")  # settled: nobody owes it
    await set_verdicts(services, codes[1], "done")
    await set_verdicts(services, codes[1], "unknown", members[2:4])  # read in part
    await set_verdicts(services, codes[2], None)  # never read
    async with services.transaction() as tx:
        late, suspended = await tx.session.scalar(select(Submission.submitted_at)), NOW
        await tx.session.execute(update(Member).where(Member.instagram_username == members[5])
                                 .values(joined_at=late + (suspended - late) / 2))
        await tx.session.execute(update(Member).where(Member.instagram_username == members[6])
                                 .values(status="suspended"))
        ids = dict((await tx.session.execute(
            select(Member.instagram_username, Member.id))).all())
        stored = {(m, s): v for m, s, v in (await tx.session.execute(
            select(Member.instagram_username, Submission.shortcode, Verification.status)
            .join(Verification, Verification.member_id == Member.id)
            .join(Submission, Submission.id == Verification.submission_id))).all()}
        everything = await posts_to_check(tx.session, week, services.rules)
        refresh = await posts_to_check(tx.session, week, services.rules, only_open=True)
        mine = {name: await posts_to_check(tx.session, week, services.rules,
                                           member_id=ids[name]) for name in members}
    active = [m for m in members if m not in (members[5], members[6])]
    owned = {code: owner for code, (owner, _) in community.posts.items()
             if owner != members[6]}  # a suspended member's posts are owed by nobody
    expected = {code: {m for m in active if m != owner and stored.get((m, code)) != "done"}
                for code, owner in owned.items()}
    expected = {code: owing for code, owing in expected.items() if owing}
    assert codes[0] not in expected and expected[codes[1]] == set(members[2:4]) - {
        community.posts[codes[1]][0]}
    assert len(everything) == len(owned)  # the final check: every post, every member
    assert {p.shortcode: set(p.owed_by.values()) for p in refresh} == expected
    assert all(dict(p.owed_by) == {ids[m]: m for m in expected[p.shortcode]} for p in refresh)
    for name in members:
        owes = {code for code, owner in owned.items() if owner != name != members[5]
                and stored.get((name, code)) != "done"}  # the suspended one's check holds
        assert {p.shortcode for p in mine[name]} == owes, name
        assert all(dict(p.owed_by) == {ids[name]: name} for p in mine[name])
    # Reading: a member's check reads that member's open posts, the refresh the open ones.
    read = spy_reads(simulated, monkeypatch)
    report = await verifier(services, instagram).run(week, services.rules,
                                                     member_id=ids[members[1]])
    assert sorted(read) == sorted(p.shortcode for p in mine[members[1]]) and report.posts
    assert sum(report.verdicts.values()) == len(mine[members[1]])
    read.clear()
    stored = await verdicts(services)  # that member's check settled some
    expected = {code: {m for m in active if m != owner and stored.get((m, code)) != "done"}
                for code, owner in owned.items()}
    expected = {code: owing for code, owing in expected.items() if owing}
    # After the cutoff, a post whose every debt a complete read after it found "missing"
    # is decided: the re-check leaves it alone.
    expected = {code: owing for code, owing in expected.items()
                if any(stored.get((m, code)) != "missing" for m in owing)}
    report = await verifier(services, instagram).run(week, services.rules, only_open=True)
    assert sorted(read) == sorted(expected) and report.fetched == len(expected)
    assert sum(report.verdicts.values()) == sum(map(len, expected.values()))


async def test_a_short_recheck_reads_the_never_read_then_the_least_recently_read_first(
    services: Services, simulated: SimulatedInstagram, instagram: Instagram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One helper whose budget allows three reads: the re-check reads the post nobody
    read (no read kept), then the least recently read ones, and leaves the posts read
    last for later, whatever their verdicts or the order they were handed in."""
    community, week = await world(services, simulated, 6, posts_each=1)
    instagram.pool.hourly_budget = 100_000
    await verifier(services, instagram).run(week, services.rules)
    codes = list(community.posts)
    for code in codes:  # each still owed by someone, so the re-check would read it
        owner = community.posts[code][0]
        await set_verdicts(services, code, "unknown",
                           [next(m for m in community.members if m != owner)])
    unread, *rest = reversed(codes)
    async with services.transaction() as tx:
        ids = dict((await tx.session.execute(select(Submission.shortcode, Submission.id))).all())
        await tx.session.execute(delete(PostRead).where(PostRead.submission_id == ids[unread]))
        for age, code in enumerate(rest):  # the first handed in was read last
            await tx.session.execute(update(PostRead).where(
                PostRead.submission_id == ids[code]).values(read_at=NOW - timedelta(hours=age)))
    for helper in instagram.pool.helpers.values():
        helper.calls.clear()
    instagram.pool.hourly_budget = 3  # three posts: one page each (newer-only, or first)
    read = spy_reads(simulated, monkeypatch)
    report = await verifier(services, instagram).run(week, services.rules, only_open=True)
    assert read[:3] == [unread, rest[-1], rest[-2]]
    assert report.paused and report.fetched == 3
    found = await verdicts(services)
    assert all(found.get((m, unread)) in ("done", "missing")
               for m in community.members if m != community.posts[unread][0])
