"""The week board: every active member with how many posts they still owe, for the web
page an admin posts in the open chat (where no bot can post).

Counted in the database (one grouped count of the week's verdicts), not by building
every member's to-do list: a 300-member week owes about 225,000 comments, and the page
is opened by the whole community after each link in the chat. One member's list is
read only when someone opens it. A finished week is read from its record.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.names import name_key
from services.rules import CommunityRules
from services.week.calendar import Week
from services.week.progress import WEEK_ROWS, ProgressService, TodoItem
from storage.models import (
    JobRun,
    Member,
    Verification,
    WeekRecord,
    WeekRecordEntry,
    WeekRecordMember,
    WeekRecordPost,
)
from storage.models.base import UTCDateTime

_M, _V = (model.__table__.c for model in (Member, Verification))
# The live week's verdicts per member and status, on the posts owed comments (handed in
# by active members). The verdicts the verification writes are the owed ones only (never
# a member's own post, nor one from before they joined when the rules say so), so no
# join to the members: read by post id, the plan stays cheap even before the database
# has statistics of a week just written (a 300-member week is 224,000 rows).
_VERDICTS = (
    select(_V.member_id, _V.status, func.count(), func.max(_V.checked_at))
    .where(_V.submission_id.in_(bindparam("posts", expanding=True)))
    .group_by(_V.member_id, _V.status)
)
# The week's scheduled re-checks that finished (a re-check that changed no verdict is
# still a check): with the last verdict written, when Instagram was last read.
_LAST_REFRESH = (select(func.max(JobRun.finished_at))
                 .where(JobRun.job == "refresh", JobRun.status == "done",
                        JobRun.finished_at >= bindparam("since", type_=UTCDateTime()),
                        JobRun.finished_at < bindparam("until", type_=UTCDateTime())))
_MEMBERS = (select(_M.id, _M.instagram_username, _M.display_name, _M.joined_at)
            .where(_M.status == "active"))


@dataclass(frozen=True)
class BoardRow:
    member_id: int | None  # None: deleted since the week was recorded
    username: str
    display_name: str | None
    owed: int
    done: int
    missing: int  # verdicts "missing" or "late"
    submitted: int  # posts the member handed in that week

    @property
    def left(self) -> int:
        """Posts still to comment on (missing, unknown or not checked yet)."""
        return self.owed - self.done


@dataclass(frozen=True)
class Board:
    week: Week
    rows: list[BoardRow]  # who owes the most first, then by name
    posts: int  # posts handed in
    finished: bool  # read from the week's record (its final check ran)
    checked_at: datetime | None  # when Instagram was last read for this week

    @property
    def done(self) -> list[BoardRow]:
        """Members whose owed comments were all checked as there; one who owes nothing
        (yet) is not counted as done."""
        return [row for row in self.rows if row.owed and row.left == 0]

    @property
    def comments_left(self) -> int:
        return sum(row.left for row in self.rows)


def _ordered(rows: list[BoardRow]) -> list[BoardRow]:
    return sorted(rows, key=lambda row: (-row.left, row.username))


class BoardService:
    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules

    async def board(self, week: Week) -> Board:
        """The week as recorded at its final check, or as it stands now."""
        record = await self.session.scalar(
            select(WeekRecord).where(WeekRecord.week_start == week.start))
        if record is not None:
            return await self._recorded(week, record)
        return await self._live(week)

    async def _live(self, week: Week) -> Board:
        posts = (await self.session.execute(WEEK_ROWS, {"week": week.start})).all()
        owed_posts = [post for post in posts if post.status == "active"]
        times = [post.submitted_at for post in owed_posts]  # in submission order
        late = not self.rules.late_joiners_owe_earlier_posts
        verdicts = await self.session.execute(
            _VERDICTS, {"posts": [post.id for post in owed_posts] or [0]})
        counts: dict[int, Counter[str]] = {}
        checked_at: datetime | None = None  # the last verdict written: the last check
        for member_id, status, count, last in verdicts.all():
            counts.setdefault(member_id, Counter())[status] = count
            checked_at = last if checked_at is None or last > checked_at else checked_at
        handed_in = Counter(post.member_id for post in posts)
        own_times: dict[int, list[datetime]] = {}
        for post in owed_posts:
            own_times.setdefault(post.member_id, []).append(post.submitted_at)
        rows = []
        for member_id, username, display_name, joined in \
                (await self.session.execute(_MEMBERS)).all():
            own = own_times.get(member_id, [])
            if late and joined is not None:  # only posts handed in since they joined
                owed = len(times) - bisect_left(times, joined) - \
                    (len(own) - bisect_left(own, joined))
            else:
                owed = len(times) - len(own)
            verdict = counts.get(member_id, Counter())
            owed -= verdict["coauthor"]  # a co-author owes nothing on the post
            rows.append(BoardRow(member_id, username, display_name, owed,
                                 min(verdict["done"], owed),
                                 verdict["missing"] + verdict["late"], handed_in[member_id]))
        refreshed = await self.session.scalar(_LAST_REFRESH, {
            "since": week.at("MON 00:00"), "until": week.at("SUN 23:59") + timedelta(minutes=1)})
        if refreshed is not None and (checked_at is None or refreshed > checked_at):
            checked_at = refreshed
        return Board(week, _ordered(rows), len(posts), False, checked_at)

    async def _recorded(self, week: Week, record: WeekRecord) -> Board:
        counts: dict[str, Counter[str]] = {}
        entries = await self.session.execute(
            select(WeekRecordEntry.username, WeekRecordEntry.status, func.count())
            .where(WeekRecordEntry.week_start == week.start)
            .group_by(WeekRecordEntry.username, WeekRecordEntry.status))
        for username, status, count in entries.all():
            counts.setdefault(username, Counter())[status] = count
        members = await self.session.execute(
            select(WeekRecordMember.member_id, WeekRecordMember.username,
                   Member.display_name, WeekRecordMember.submitted)
            .outerjoin(Member, Member.id == WeekRecordMember.member_id)
            .where(WeekRecordMember.week_start == week.start))
        rows = []
        for member_id, username, display_name, submitted in members.all():
            verdict = counts.get(username, Counter())
            rows.append(BoardRow(member_id, username, display_name, verdict.total(),
                                 verdict["done"], verdict["missing"] + verdict["late"],
                                 submitted))
        posts = await self.session.scalar(
            select(func.count()).select_from(WeekRecordPost)
            .where(WeekRecordPost.week_start == week.start,
                   WeekRecordPost.state.in_(("counted", "comments_off"))))
        return Board(week, _ordered(rows), posts or 0, True, record.recorded_at)

    async def still_owed(self, week: Week, username: str) -> list[TodoItem] | None:
        """One member's posts still to comment on that week (None: not on its board)."""
        key = name_key(username)
        record = await self.session.scalar(
            select(WeekRecord.id).where(WeekRecord.week_start == week.start))
        if record is not None:
            if await self.session.scalar(select(WeekRecordMember.id).where(
                    WeekRecordMember.week_start == week.start,
                    WeekRecordMember.username == key)) is None:
                return None
            rows = await self.session.execute(
                select(WeekRecordPost.submission_id, WeekRecordPost.owner, WeekRecordPost.url,
                       WeekRecordEntry.status, WeekRecordPost.submitted_at,
                       WeekRecordPost.shortcode)
                .join(WeekRecordPost, WeekRecordPost.id == WeekRecordEntry.post_id)
                .where(WeekRecordEntry.week_start == week.start,
                       WeekRecordEntry.username == key, WeekRecordEntry.status != "done")
                .order_by(WeekRecordPost.submitted_at, WeekRecordPost.url))
            return [TodoItem(s or 0, owner, url, status, at, code)
                    for s, owner, url, status, at, code in rows.all()]
        member_id = await self.session.scalar(select(Member.id).where(
            Member.instagram_username == key, Member.status == "active"))
        if member_id is None:
            return None
        todo = await ProgressService(self.session, self.rules).live_todo(member_id, week)
        return [item for item in todo if item.status != "done"]

