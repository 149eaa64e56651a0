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
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.instagram.names import name_key
from services.progress import WEEK_ROWS, ProgressService, TodoItem
from services.rules import CommunityRules
from services.weeks import Week
from storage.models import (
    Member,
    Submission,
    Verification,
    WeekRecord,
    WeekRecordEntry,
    WeekRecordMember,
    WeekRecordPost,
)

_S, _M, _V = (model.__table__.c for model in (Submission, Member, Verification))
_OWNER = aliased(Member.__table__)
# The live week's verdicts per member and status, on active posts of active members
# that the member owes (not their own; by the late-joiner rule, not earlier ones).
_VERDICTS = (
    select(_V.member_id, _V.status, func.count())
    .select_from(Verification.__table__)
    .join(Submission.__table__, _S.id == _V.submission_id)
    .join(_OWNER, _OWNER.c.id == _S.member_id)
    .join(Member.__table__, _M.id == _V.member_id)
    .where(_S.week_start == bindparam("week"), _S.status == "active",
           _OWNER.c.status == "active", _M.status == "active",
           _S.member_id != _V.member_id)
    .group_by(_V.member_id, _V.status)
)
_VERDICTS_LATE = _VERDICTS.where(
    (_M.joined_at.is_(None)) | (_S.submitted_at >= _M.joined_at))
_MEMBERS = (select(_M.id, _M.instagram_username, _M.display_name, _M.joined_at)
            .where(_M.status == "active"))
_LAST_CHECK = (select(func.max(_V.checked_at)).select_from(Verification.__table__)
               .join(Submission.__table__, _S.id == _V.submission_id)
               .where(_S.week_start == bindparam("week")))


@dataclass(frozen=True)
class BoardRow:
    member_id: int | None  # None: deleted since the week was recorded
    username: str
    display_name: str | None
    owed: int
    done: int
    missing: int  # verdicts "missing"
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
        return [row for row in self.rows if row.left == 0]

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
        verdicts = await self.session.execute(_VERDICTS_LATE if late else _VERDICTS,
                                              {"week": week.start})
        counts: dict[int, Counter[str]] = {}
        for member_id, status, count in verdicts.all():
            counts.setdefault(member_id, Counter())[status] = count
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
            rows.append(BoardRow(member_id, username, display_name, owed,
                                 min(verdict["done"], owed),
                                 verdict["missing"], handed_in[member_id]))
        checked_at = await self.session.scalar(_LAST_CHECK, {"week": week.start})
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
                                 verdict["done"], verdict["missing"], submitted))
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

