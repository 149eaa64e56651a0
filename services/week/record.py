"""A finished week written down at its final check, and corrections made to it since.

`record` stores who was active, what each handed in, who owed which post and every
verdict, as they were when the week's results were made. Results, `/me` and the
leaderboard read that record (services/week/progress.py), so suspending, pausing, adding or
deleting a member later never rewrites a finished week. A change afterwards is a
correction: the verdict in the record changes and a WeekCorrection row says what it was,
what it became, who made it and why; the results show those rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.names import name_key
from services.members.instagram_identities import member_by_any_name
from services.rules import CommunityRules
from services.week.calendar import Week
from services.week.progress import ProgressService
from storage.models import (
    JobRun,
    Member,
    MemberName,
    Submission,
    WeekCorrection,
    WeekRecord,
    WeekRecordEntry,
    WeekRecordMember,
    WeekRecordPost,
)

# What a submission's status becomes in the record.
POST_STATES = {"active": "counted", "comments_off": "comments_off", "foreign": "foreign",
               "gone": "gone", "private": "private"}
# Handed in, but not counted: why (a below-minimum strike names them).
DROPPED = ("gone", "foreign", "private")
RECHECK = "recheck"  # the actor of a correction made by an appeal's re-check
HIDDEN = "hidden"  # the reason of a comment counted by an admin: Instagram hid it
# What a deleted member's name becomes in the records ("deleted:<their old id>": unique
# per member, so each week's counts stay apart; no Instagram name has a colon). Shown as
# "(삭제된 멤버)" / "(deleted member)" by `shown_name` callers.
DELETED = "deleted:"


def is_deleted(name: str | None) -> bool:
    return bool(name) and name.startswith(DELETED)  # type: ignore[union-attr]


async def forget_member(session: AsyncSession, member_id: int) -> None:
    """`/deluser`: every week's record keeps its numbers (who owed what, each verdict,
    the posts counted) but no longer names the member nor links their posts: their name
    becomes DELETED + id, their posts' links and shortcodes are emptied, and corrections
    about them or their posts say neither."""
    marker = f"{DELETED}{member_id}"
    weeks = (await session.execute(
        select(WeekRecordMember.week_start, WeekRecordMember.username)
        .where(WeekRecordMember.member_id == member_id))).all()
    names = {name for (name,) in (await session.execute(
        select(MemberName.username).where(MemberName.member_id == member_id))).all()}
    names |= {name for (name,) in (await session.execute(
        select(Member.instagram_username).where(Member.id == member_id))).all()}
    # The weeks they were recorded in, under the name they had then; their posts (and
    # corrections) under any of their names in any week (a post of a week they were
    # not active in is in the record too).
    by_week = [(WeekRecordPost.week_start == week) & (WeekRecordPost.owner == name)
               for week, name in weeks]
    owned = or_(WeekRecordPost.owner.in_(names), *by_week) if by_week else \
        WeekRecordPost.owner.in_(names)
    await session.execute(update(WeekRecordPost).where(owned)
                          .values(owner=marker, url="", shortcode=""))
    for week, name in weeks:
        await session.execute(update(WeekRecordEntry).where(
            WeekRecordEntry.week_start == week, WeekRecordEntry.username == name)
            .values(username=marker))
        await session.execute(update(WeekCorrection).where(
            WeekCorrection.week_start == week, WeekCorrection.username == name)
            .values(username=marker))
        await session.execute(update(WeekCorrection).where(
            WeekCorrection.week_start == week, WeekCorrection.post_owner == name)
            .values(post_owner=marker, post_url=None))
    await session.execute(update(WeekCorrection).where(WeekCorrection.post_owner.in_(names))
                          .values(post_owner=marker, post_url=None))
    await session.execute(update(WeekRecordMember)
                          .where(WeekRecordMember.member_id == member_id)
                          .values(username=marker))


class WeekRecords:
    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules
        self.progress = ProgressService(session, rules)

    async def exists(self, week: Week) -> bool:
        return bool(await self.session.scalar(
            select(func.count()).select_from(WeekRecord)
            .where(WeekRecord.week_start == week.start)))

    async def finished(self, week: Week) -> bool:
        """The week's final check is done: recorded and its results sent (the job run
        "final" of jobs/weekly_loop.py says so; a week from before job runs: its record)."""
        status = await self.session.scalar(select(JobRun.status).where(
            JobRun.job == "final", JobRun.period == week.label))
        return status == "done" if status is not None else await self.exists(week)

    async def record(self, week: Week, now: datetime) -> bool:
        """Write the week down as it is now, once; False when it already was."""
        if await self.exists(week):
            return False
        results = await self.progress.live_week_results(week)
        active = {m.member_id for m in results.members}
        submissions = (await self.session.execute(
            select(Submission, Member.instagram_username)
            .join(Member, Member.id == Submission.member_id)
            .where(Submission.week_start == week.start,
                   Submission.status.in_(tuple(POST_STATES)),
                   Submission.member_id.in_(active) if active else false())
            .order_by(Submission.submitted_at, Submission.id))).all()
        posts: dict[int, WeekRecordPost] = {}
        for submission, owner in submissions:
            posts[submission.id] = WeekRecordPost(
                week_start=week.start, submission_id=submission.id, owner=owner,
                url=submission.url, shortcode=submission.shortcode,
                submitted_at=submission.submitted_at, state=POST_STATES[submission.status])
        self.session.add_all(posts.values())
        self.session.add_all(WeekRecordMember(
            week_start=week.start, member_id=m.member_id, username=m.username,
            submitted=m.submitted) for m in results.members)
        self.session.add(WeekRecord(week_start=week.start, recorded_at=now,
                                    checked=results.checked))
        await self.session.flush()
        entries = [{"week_start": week.start, "post_id": posts[item.submission_id].id,
                    "username": member.username, "status": item.status}
                   for member in results.members for item in member.todo
                   if item.submission_id in posts]
        for start in range(0, len(entries), 5000):
            await self.session.execute(WeekRecordEntry.__table__.insert(),
                                       entries[start:start + 5000])
        return True

    async def unsettled(self, week: Week) -> int:
        """Owed comments of a recorded week still "couldn't check" (0: none, or no record)."""
        return await self.session.scalar(
            select(func.count()).select_from(WeekRecordEntry)
            .where(WeekRecordEntry.week_start == week.start,
                   WeekRecordEntry.status.in_(("unknown", "unchecked")))) or 0

    async def fill_in(self, week: Week) -> int:
        """A recorded week's "couldn't check" entries take the verdicts that reads made
        since have settled (the final check could not read everything in time: the
        record fills in as the reads finish). Returns how many were filled in. Nothing
        else changes: the ladder ran on what was known and left these out."""
        if not await self.exists(week):
            return 0
        rows = (await self.session.execute(
            select(WeekRecordEntry, WeekRecordPost.submission_id, WeekRecordMember.member_id)
            .join(WeekRecordPost, WeekRecordPost.id == WeekRecordEntry.post_id)
            .join(WeekRecordMember, and_(WeekRecordMember.week_start == week.start,
                                         WeekRecordMember.username == WeekRecordEntry.username))
            .where(WeekRecordEntry.week_start == week.start,
                   WeekRecordEntry.status.in_(("unknown", "unchecked"))))).all()
        if not rows:
            return 0
        live = await self.progress.verdicts_of([s for _, s, _ in rows if s], week)
        filled = 0
        for entry, submission_id, member_id in rows:
            status = live.get((member_id, submission_id))
            if status in ("done", "missing", "late"):
                entry.status = status
                filled += 1
        await self.session.flush()
        return filled

    async def take_rechecked(self, week: Week, member_id: int, now: datetime,
                             reason: str) -> list[WeekCorrection]:
        """After a re-check of a recorded week (an appeal): every verdict of this member
        that the re-check settled differently goes into the record as a correction."""
        if not await self.exists(week):
            return []
        username = await self.recorded_name(week.start, member_id)
        live = await self.progress.live_todo_of(member_id, week)
        changed = []
        rows = await self.session.execute(
            select(WeekRecordEntry, WeekRecordPost)
            .join(WeekRecordPost, WeekRecordPost.id == WeekRecordEntry.post_id)
            .where(WeekRecordEntry.week_start == week.start,
                   WeekRecordEntry.username == username))
        for entry, post in rows.all():
            now_status = live.get(post.submission_id or -1)
            if now_status is None or now_status == entry.status or entry.status == "done":
                continue
            if now_status not in ("done", "missing", "late"):
                continue  # only a settled verdict corrects the record
            changed.append(self._correct(entry, post, now_status, RECHECK, reason, now))
        await self.session.flush()
        return changed

    async def recorded_name(self, week_start: date, member_id: int) -> str | None:
        """The name the week's record has for this member: the one they had then (a
        rename since does not rewrite it); their name now when they are not in it."""
        return await self.session.scalar(
            select(WeekRecordMember.username).where(WeekRecordMember.week_start == week_start,
                                                    WeekRecordMember.member_id == member_id)
        ) or await self.session.scalar(
            select(Member.instagram_username).where(Member.id == member_id))

    async def correct(self, week: Week, username: str, post_url: str, status: str,
                      actor: str, reason: str, now: datetime) -> WeekCorrection | None:
        """An admin's correction of one verdict in a recorded week (None: no such entry).
        `username` is any name of the member (now, before a rename, or as the record
        has it): the entry is the one under the name the week was recorded with."""
        member_id = await member_by_any_name(self.session, username)
        names = [] if member_id is None else [await self.recorded_name(week.start, member_id)]
        row = None
        for name in dict.fromkeys([*names, name_key(username)]):
            row = (await self.session.execute(
                select(WeekRecordEntry, WeekRecordPost)
                .join(WeekRecordPost, WeekRecordPost.id == WeekRecordEntry.post_id)
                .where(WeekRecordEntry.week_start == week.start,
                       WeekRecordEntry.username == name, WeekRecordPost.url == post_url))
                   ).first()
            if row is not None:
                break
        if row is None:
            return None
        correction = self._correct(row[0], row[1], status, actor, reason, now)
        await self.session.flush()
        return correction

    def _correct(self, entry: WeekRecordEntry, post: WeekRecordPost, status: str,
                 actor: str, reason: str, now: datetime) -> WeekCorrection:
        correction = WeekCorrection(
            week_start=entry.week_start, at=now, kind="verdict", username=entry.username,
            post_owner=post.owner, post_url=post.url, before=entry.status, after=status,
            actor=actor, reason=reason)
        entry.status = status
        self.session.add(correction)
        return correction

    async def dropped_posts(self, week: Week) -> dict[str, list[tuple[str, str]]]:
        """Owner -> (url, state) of the posts they handed in that did not count (deleted,
        someone else's, unreadable), as the week's record has them."""
        found: dict[str, list[tuple[str, str]]] = {}
        for owner, url, state in (await self.session.execute(
                select(WeekRecordPost.owner, WeekRecordPost.url, WeekRecordPost.state)
                .where(WeekRecordPost.week_start == week.start,
                       WeekRecordPost.state.in_(DROPPED))
                .order_by(WeekRecordPost.submitted_at))).all():
            found.setdefault(owner, []).append((url, state))
        return found

    async def note_pardon(self, week_start: date, username: str, strike_reason: str,
                          actor: str, reason: str, now: datetime) -> None:
        """A strike of a recorded week taken back: shown with the week's results."""
        if not await self.session.scalar(select(func.count()).select_from(WeekRecord)
                                         .where(WeekRecord.week_start == week_start)):
            return
        self.session.add(WeekCorrection(
            week_start=week_start, at=now, kind="pardon", username=username,
            before=strike_reason, after="pardoned", actor=actor, reason=reason))
        await self.session.flush()
