"""A member's 결과 (last week) reads only what it shows: their own lines and the
community's counts from the database. What it shows is what the whole week says, for
every member, whether the week is recorded or its final check has not finished."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select, update

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.instagram.simulated import SimulatedInstagram
from services.week.calendar import Week
from services.week.progress import MISSED, ResultsView, WeekResults
from storage.models import Member, Submission, Verification
from tests.conftest import Clock
from tests.support.chat_driver import Person
from tests.support.weekly_jobs import AFTER_DEADLINE, WEDNESDAY, Phone, community, jobs_for


def assert_shows_the_whole_week(views: dict[str, ResultsView], whole: WeekResults) -> None:
    """Each member's view against the whole week's results, computed the long way."""
    standing = [(m.username, [i.status for i in m.todo]) for m in whole.members if m.todo]
    missed = {user: sum(s in MISSED for s in statuses) for user, statuses in standing}
    for name, view in views.items():
        mine = next((m for m in whole.members if m.username == name), None)
        assert view.took_part == (mine is not None), name
        assert (view.week, view.checked, view.posts) == (whole.week, whole.checked, whole.posts)
        assert view.owed == (mine.todo if mine else []), name
        assert view.own_count == (mine.submitted if mine else 0), name
        assert [(c.kind, c.before, c.after) for c in view.corrections] == [
            (c.kind, c.before, c.after) for c in whole.corrections if c.username == name]
        assert view.missing_by_member == {user: n for user, n in missed.items() if n}
        assert (view.members_done, view.members_missing, view.members_unknown) == (
            sum(all(s == "done" for s in st) for _, st in standing),
            sum(1 for n in missed.values() if n),
            sum(not missed[user] and not all(s == "done" for s in st)
                for user, st in standing)), name


async def views_of_everyone(services: Services, clock: Clock) -> dict[str, ResultsView]:
    async with services.transaction() as tx:
        members = (await tx.session.execute(select(Member.id, Member.instagram_username)))
        return {name: await tx.progress.results(member_id, clock.now)
                for member_id, name in members.all()}


async def test_a_recorded_week_shows_each_member_what_the_whole_record_says(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=6, posts_each=2, comment_rate=0.5)
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, Phone(), clock).final()
    chat = Dispatcher(timed)
    admin = Person(chat, "tg-admin", "boss", platform="telegram", language_hint="en")
    week = Week.containing(WEDNESDAY, timed.rules.timezone)
    async with timed.transaction() as tx:
        whole = await tx.progress.week_results(week)
    gone = found.members[-1]
    fixed = next(m for m in whole.members if m.missing and m.username != gone)
    await admin.say(f"/correct @{fixed.username} {fixed.missing[0].url} done filtered")
    assert "Corrected the record" in admin.text
    await admin.say(f"/deluser {gone} confirm")

    views = await views_of_everyone(timed, clock)
    async with timed.transaction() as tx:
        whole = await tx.progress.week_results(week)
    assert whole.checked and fixed.username in views and gone not in views
    assert views[fixed.username].corrections  # the correction shows to its member
    statuses = {i.status for m in whole.members for i in m.todo}
    assert {"done", "missing"} <= statuses
    assert_shows_the_whole_week(views, whole)


async def test_a_week_not_yet_recorded_shows_each_member_what_the_live_week_says(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    """Just after the deadline, before the final check has recorded the week: every
    kind of verdict, a "missing" read before the deadline (not a miss yet), a co-author,
    a member who joined after the posts were handed in, a paused member, a post with
    comments off."""
    found = await community(timed, simulated, members=7, posts_each=2)
    week = Week.containing(WEDNESDAY, timed.rules.timezone)
    cutoff = timed.rules.comment_cutoff(week)
    chance = random.Random(1)
    async with timed.transaction() as tx:
        # In id order: the verdicts are drawn in this order (rows come back in the
        # order they lie on disk, which differs once a table's rows were deleted).
        ids = dict((await tx.session.execute(
            select(Member.instagram_username, Member.id).order_by(Member.id))).tuples().all())
        posts = (await tx.session.execute(
            select(Submission.id, Submission.member_id).order_by(Submission.id))).all()
        late_joiner, paused, quiet = (ids[name] for name in found.members[-3:])
        diligent = ids[found.members[2]]  # done on every post but one they co-authored
        await tx.session.execute(update(Member).where(Member.id == late_joiner).values(
            joined_at=WEDNESDAY))
        await tx.session.execute(update(Member).where(Member.id == paused).values(
            status="paused"))
        await tx.session.execute(update(Submission).where(Submission.id == posts[0][0])
                                 .values(status="comments_off"))
        await tx.session.execute(update(Submission).where(  # handed in after they joined
            Submission.member_id == ids[found.members[1]]).values(
                submitted_at=WEDNESDAY + timedelta(days=1)))
        for post, owner in posts:
            for member in ids.values():
                if member in (owner, quiet):
                    continue  # `quiet` was never read: every line "unchecked"
                status = chance.choice(("done", "done", "missing", "late", "unknown",
                                        "coauthor"))
                if member == diligent:
                    status = "coauthor" if post == posts[-1][0] else "done"
                at = cutoff + timedelta(hours=chance.choice((-30, 2)))
                tx.session.add(Verification(submission_id=post, member_id=member,
                                            status=status, checked_at=at))
    clock.now = AFTER_DEADLINE

    views = await views_of_everyone(timed, clock)
    async with timed.transaction() as tx:
        assert await tx.records.exists(week) is False
        whole = await tx.progress.live_week_results(week)
    assert whole.checked and not views[found.members[-2]].took_part  # paused
    statuses = {i.status for m in whole.members for i in m.todo}
    assert {"done", "missing", "late", "unknown", "unchecked"} <= statuses
    early = [i for m in whole.members if m.username == found.members[-3] for i in m.todo]
    assert 0 < len(early) < len(views[found.members[0]].owed)  # owes only later posts
    assert views[found.members[2]].members_done >= 1
    assert_shows_the_whole_week(views, whole)
