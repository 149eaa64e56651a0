"""Verdicts tied to the person and the clock: comment times against the deadline, a
"missing" read mid-week that no later read confirmed, co-authors, renamed members, and
a below-minimum strike that names the post that did not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from handlers.announcements import ladder_news, private_result
from services.accountability.ladder import LadderNews
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.sample_community import SampleCommunity, build
from services.week.calendar import Week
from storage.models import Member, MemberName, Strike, Submission
from tests.conftest import Clock
from tests.support.verification import verdicts

WEDNESDAY = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # noon in Seoul
AFTER = datetime(2026, 11, 29, 15, 10, tzinfo=UTC)  # Monday 00:10 in Seoul


async def world(services: Services, sim: SimulatedInstagram, members: int = 3, **extra: object
                ) -> tuple[SampleCommunity, Week]:
    week = Week.containing(WEDNESDAY, services.rules.timezone)
    async with services.transaction() as tx:
        community = await build(tx.session, sim, week, members=members, posts_each=1,
                                comment_rate=0.0, **extra)  # type: ignore[arg-type]
        await tx.helpers.load_pool()
    return community, week


async def finish_week(services: Services, week: Week, clock: Clock) -> None:
    """The final check after the deadline, the record, the ladder (as the job does)."""
    clock.now = AFTER
    await services.checks.week(week)
    async with services.transaction() as tx:
        await tx.records.record(week, AFTER)
        await tx.accountability.apply_week(week, AFTER)


async def strikes(services: Services) -> dict[str, list[str]]:
    async with services.transaction() as tx:
        rows = (await tx.session.execute(
            select(Member.instagram_username, Strike.reason)
            .join(Strike, Strike.member_id == Member.id))).all()
    found: dict[str, list[str]] = {}
    for name, reason in rows:
        found.setdefault(name, []).append(reason)
    return found


async def struck_posts(services: Services, username: str) -> str:
    """The posts of a member's "missing" strikes, as text."""
    async with services.transaction() as tx:
        details = (await tx.session.scalars(
            select(Strike.detail).join(Member, Member.id == Strike.member_id)
            .where(Member.instagram_username == username, Strike.reason == "missing"))).all()
    return repr(details)


async def test_a_comment_counts_by_its_own_time_not_the_time_it_was_read(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    community, week = await world(timed, simulated)
    minji, jisoo, hana = community.members
    (minji_post,) = [c for c, (o, _) in community.posts.items() if o == minji]
    cutoff = timed.rules.comment_cutoff(week)
    post = simulated.posts[minji_post]
    post.comments += [(jisoo, "좋아요!", cutoff - timedelta(seconds=5)),  # on time
                      (hana, "늦었어요", cutoff + timedelta(seconds=5))]  # late
    await finish_week(timed, week, clock)
    found = await verdicts(timed)
    assert found[(jisoo, minji_post)] == "done"
    assert found[(hana, minji_post)] == "late"
    async with timed.transaction() as tx:
        results = await tx.progress.week_results(week)
    mine = next(m for m in results.members if m.username == hana)
    late = [i for i in mine.missing if i.shortcode == minji_post]
    assert late and late[0].status == "late"  # in the record, shown as late
    assert "⏰" in private_result(mine, week)("ko")
    assert "missing" in (await strikes(timed)).get(hana, [])


@pytest.mark.rules(comment_grace=timedelta(minutes=10))
async def test_a_grace_covers_a_comment_made_just_after_the_deadline(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    community, week = await world(timed, simulated)
    minji, jisoo, _ = community.members
    (minji_post,) = [c for c, (o, _) in community.posts.items() if o == minji]
    deadline = week.at(timed.rules.comment_deadline)
    simulated.posts[minji_post].comments.append((jisoo, "좋아요!", deadline + timedelta(minutes=5)))
    await finish_week(timed, week, clock)
    assert (await verdicts(timed))[(jisoo, minji_post)] == "done"


async def test_a_missing_read_mid_week_is_a_to_do_never_a_strike(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    community, week = await world(timed, simulated)
    minji, jisoo, _ = community.members
    (minji_post,) = [c for c, (o, _) in community.posts.items() if o == minji]
    clock.now = WEDNESDAY
    await timed.checks.week(week, only_open=True)  # Wednesday's refresh: "missing"
    assert (await verdicts(timed))[(jisoo, minji_post)] == "missing"
    # jisoo comments on Thursday; the final check cannot read the post (it is
    # "not found" once, a passing fault): Wednesday's "missing" must not stand.
    simulated.posts[minji_post].comments.append(
        (jisoo, "좋아요!", WEDNESDAY + timedelta(days=1)))
    simulated.posts[minji_post].not_found_reads = 5
    await finish_week(timed, week, clock)
    async with timed.transaction() as tx:
        results = await tx.progress.week_results(week)
        reasons = await tx.progress.check_reasons(week)
    mine = next(m for m in results.members if m.username == jisoo)
    assert not [i for i in mine.missing if i.shortcode == minji_post]
    assert minji_post in {i.shortcode for i in mine.todo if i.status == "unknown"}
    assert minji_post not in await struck_posts(timed, jisoo)
    assert results.unchecked(reasons)  # the results say what is still unread
    # The next refresh reads it: the record fills in, still without a strike.
    simulated.posts[minji_post].not_found_reads = 0
    async with timed.transaction() as tx:
        assert await tx.records.unsettled(week)
    await timed.checks.week(week, only_open=True)
    async with timed.transaction() as tx:
        assert await tx.records.fill_in(week) >= 1
        results = await tx.progress.week_results(week)
    mine = next(m for m in results.members if m.username == jisoo)
    assert {i.status for i in mine.todo if i.shortcode == minji_post} == {"done"}


async def test_a_co_author_owes_nothing_on_the_collab_post(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    community, week = await world(timed, simulated)
    minji, jisoo, hana = community.members
    (minji_post,) = [c for c, (o, _) in community.posts.items() if o == minji]
    simulated.posts[minji_post].coauthors = [jisoo]
    simulated.posts[minji_post].comments.append((hana, "좋아요!"))
    await finish_week(timed, week, clock)
    found = await verdicts(timed)
    assert found[(jisoo, minji_post)] == "coauthor" and found[(hana, minji_post)] == "done"
    async with timed.transaction() as tx:
        results = await tx.progress.week_results(week)
        status = await tx.progress.status(
            (await tx.members.ids_by_username([jisoo]))[jisoo], WEDNESDAY)
    mine = next(m for m in results.members if m.username == jisoo)
    assert minji_post not in {i.shortcode for i in mine.todo}  # never "missing" there
    assert minji_post not in {i.shortcode for i in status.todo}
    assert minji_post not in await struck_posts(timed, jisoo)


@pytest.mark.rules(weekly_min_posts=1)  # one post each: the collab post is jisoo's one
async def test_a_collab_post_handed_in_by_its_co_author_is_theirs(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    community, week = await world(timed, simulated)
    minji, jisoo, _ = community.members
    (jisoo_post,) = [c for c, (o, _) in community.posts.items() if o == jisoo]
    post = simulated.posts[jisoo_post]
    post.owner, post.coauthors = "seoul.cafe.daily", [jisoo]  # the café's post, with jisoo
    post.comments.append((minji, "좋아요!"))
    await finish_week(timed, week, clock)
    async with timed.transaction() as tx:
        status = await tx.session.scalar(
            select(Submission.status).where(Submission.shortcode == jisoo_post))
    assert status == "active"  # not "someone else's"
    assert "below_minimum" not in (await strikes(timed)).get(jisoo, [])
    assert (await verdicts(timed))[(minji, jisoo_post)] == "done"


async def test_a_member_who_renames_mid_week_keeps_her_posts_and_her_comments(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    community, week = await world(timed, simulated)
    minji, jisoo, hana = community.members
    posts = {o: c for c, (o, _) in community.posts.items()}
    simulated.posts[posts[jisoo]].comments.append((minji, "좋아요!"))
    clock.now = WEDNESDAY
    await timed.checks.week(week)  # learns everyone's pk from this read
    simulated.rename(minji, "minji.new")
    simulated.posts[posts[hana]].comments.append(("minji.new", "저도요!"))
    await finish_week(timed, week, clock)
    found = await verdicts(timed)
    assert found[("minji.new", posts[jisoo])] == "done"
    assert found[("minji.new", posts[hana])] == "done"
    async with timed.transaction() as tx:
        old = await tx.session.scalar(select(MemberName.username))
        states = dict((await tx.session.execute(
            select(Submission.shortcode, Submission.status))).all())
    assert old == minji and states[posts[minji]] == "active"  # her post stays hers
    assert posts[jisoo] not in await struck_posts(timed, "minji.new")
    assert posts[hana] not in await struck_posts(timed, "minji.new")


@pytest.mark.rules(gone_after=timedelta(hours=6))
async def test_a_below_minimum_strike_names_the_post_that_did_not_count(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    community, week = await world(timed, simulated, helpers=2)
    minji = community.members[0]
    (minji_post,) = [c for c, (o, _) in community.posts.items() if o == minji]
    simulated.posts[minji_post].gone = True
    clock.now = WEDNESDAY
    await timed.checks.week(week)  # "not found" by two helpers at once: not yet gone
    async with timed.transaction() as tx:
        assert await tx.session.scalar(
            select(Submission.status).where(Submission.shortcode == minji_post)) == "active"
    clock.now = WEDNESDAY + timedelta(hours=7)
    await timed.checks.week(week)
    await finish_week(timed, week, clock)
    async with timed.transaction() as tx:
        strike = await tx.session.scalar(
            select(Strike).join(Member, Member.id == Strike.member_id)
            .where(Strike.reason == "below_minimum", Member.instagram_username == minji))
        assert strike is not None
        news = LadderNews(strike.member_id, minji, strikes=[strike], step="warning")
    text = ladder_news(news, week, timed.rules)("ko")
    assert f"https://www.instagram.com/p/{minji_post}/" in text and "삭제" in text
    assert "제출한 1개 중 1개" in text
