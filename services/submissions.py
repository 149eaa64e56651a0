"""Weekly link submission: quota, duplicates, deadline, withdrawal."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.names import name_key
from services.links import PostLink
from services.progress import HANDED_IN
from services.rules import CommunityRules
from services.weeks import Week
from storage.models import Member, Submission
from storage.repositories.members import MemberRepo
from storage.repositories.weekly import SubmissionRepo

_S = Submission.__table__.c
BOOK = select(_S.member_id, _S.shortcode, _S.id, _S.status).where(
    _S.week_start == bindparam("week"))
# A link's decision needs the member's own submissions and the post's, if handed in:
# a few rows, where the whole week's is a thousand in a big community.
BOOK_FOR_ONE = BOOK.where((_S.member_id == bindparam("member"))
                          | (_S.shortcode == bindparam("shortcode")))


class SubmitResult(Enum):
    ACCEPTED = "accepted"
    OVER_MAX = "over_max"
    DUPLICATE_OWN = "duplicate_own"
    DUPLICATE_OTHER = "duplicate_other"
    CLOSED = "closed"
    NOT_ACTIVE = "not_active"
    FOREIGN = "foreign"  # the post's author is someone else


@dataclass
class WeekBook:
    """What the quota and duplicate rules need to know about one week's submissions."""

    closes_at: datetime  # the submission deadline
    counts: dict[int, int] = field(default_factory=dict)  # active submissions per member
    owners: dict[str, tuple[int, int]] = field(default_factory=dict)  # shortcode -> member, id


@dataclass(frozen=True)
class Submitted:
    result: SubmitResult
    count: int  # the member's submissions this week after this attempt
    maximum: int
    submission_id: int | None = None
    author: str | None = None  # as Instagram said at submission (None: not read)


class WithdrawResult(Enum):
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    NOT_FOUND = "not_found"


class SubmissionService:
    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules
        self.submissions = SubmissionRepo(session)
        self.members = MemberRepo(session)

    def week(self, now: datetime) -> Week:
        return Week.containing(now, self.rules.timezone)

    def is_open(self, now: datetime) -> bool:
        return now <= self.week(now).at(self.rules.submission_deadline)

    async def _book(self, week: Week, member_id: int | None = None,
                    shortcode: str | None = None) -> WeekBook:
        """The week's submissions as the rules see them; for one link, only the rows that
        decide it (the member's own, and that post's), not the whole week's."""
        statement = BOOK if member_id is None else BOOK_FOR_ONE
        rows = await self.session.execute(statement, {
            "week": week.start, "member": member_id, "shortcode": shortcode})
        book = WeekBook(week.at(self.rules.submission_deadline))
        for owner, code, submission_id, status in rows.all():
            book.owners[code] = (owner, submission_id)
            if status in HANDED_IN:
                book.counts[owner] = book.counts.get(owner, 0) + 1
        return book

    def _decide(self, book: WeekBook, active: bool, member_id: int, link: PostLink,
                now: datetime) -> Submitted:
        """The quota, deadline and duplicate rules, on what is known of the week."""
        count, maximum = book.counts.get(member_id, 0), self.rules.weekly_max_posts
        if not active:
            return Submitted(SubmitResult.NOT_ACTIVE, count, maximum)
        if now > book.closes_at:
            return Submitted(SubmitResult.CLOSED, count, maximum)
        if link.shortcode in book.owners:
            owner, existing_id = book.owners[link.shortcode]
            own = owner == member_id
            result = SubmitResult.DUPLICATE_OWN if own else SubmitResult.DUPLICATE_OTHER
            return Submitted(result, count, maximum, existing_id)
        if count >= maximum:
            return Submitted(SubmitResult.OVER_MAX, count, maximum)
        return Submitted(SubmitResult.ACCEPTED, count + 1, maximum)

    async def submit(
        self, member_id: int, link: PostLink, now: datetime, source: str = "chat",
        author: str | None = None,
    ) -> Submitted:
        """Hand in a post; `author`, when Instagram was asked, must be the member. A post
        another member handed in but the submitter wrote moves to its author."""
        week = self.week(now)
        member = await self.members.get(member_id)
        active = member is not None and member.status == "active"
        book = await self._book(week, member_id, link.shortcode)
        done = self._decide(book, active, member_id, link, now)
        own = member is not None and author is not None and \
            name_key(author) == name_key(member.instagram_username)
        if author is not None and not own and done.result in (
                SubmitResult.ACCEPTED, SubmitResult.DUPLICATE_OTHER):
            return replace(done, result=SubmitResult.FOREIGN, count=book.counts.get(
                member_id, 0), author=name_key(author))
        if done.result is SubmitResult.DUPLICATE_OTHER and own:
            taken = await self._take_back(member_id, book, done, author, now)
            if taken is not None:
                return taken
            # The other member's row was withdrawn meanwhile: a new one.
            done = Submitted(SubmitResult.ACCEPTED, book.counts.get(member_id, 0) + 1,
                             done.maximum)
        if done.result is not SubmitResult.ACCEPTED:
            return done
        row = await self.submissions.add(
            member_id, week.start, link.url, link.shortcode, source=source, submitted_at=now
        )
        row.author = name_key(author) if author else None
        return replace(done, submission_id=row.id, author=row.author)

    async def _take_back(self, member_id: int, book: WeekBook, done: Submitted,
                         author: str | None, now: datetime) -> Submitted | None:
        """The author hands in their own post that someone else had handed in (a repost
        of their link): the submission becomes theirs, within their quota (None: that
        row is gone since)."""
        count = book.counts.get(member_id, 0)
        if count >= done.maximum:
            return Submitted(SubmitResult.OVER_MAX, count, done.maximum)
        row = await self.session.get(Submission, done.submission_id)
        if row is None:
            return None
        row.member_id, row.status, row.author = member_id, "active", author
        row.submitted_at = now
        await self.session.flush()
        return Submitted(SubmitResult.ACCEPTED, count + 1, done.maximum, row.id, author)

    async def submit_many(
        self, items: list[tuple[int, PostLink, datetime]], source: str
    ) -> list[Submitted]:
        """The same rules for many links at once (an open-chat import): each week's
        submissions are read once, and the new rows are written in one bulk INSERT."""
        statuses = dict((await self.session.execute(select(Member.id, Member.status))).all())
        books: dict[date, WeekBook] = {}
        results: list[Submitted] = []
        rows: list[dict[str, object]] = []
        weeks: dict[date, Week] = {}  # by the local day: a week is worked out once a day
        for member_id, link, when in items:
            day = when.astimezone(self.rules.timezone).date()
            week = weeks.get(day) or weeks.setdefault(day, self.week(when))
            week_start = week.start
            if week_start not in books:
                books[week_start] = await self._book(week)
            book = books[week_start]
            done = self._decide(book, statuses.get(member_id) == "active", member_id, link, when)
            if done.result is SubmitResult.ACCEPTED:
                rows.append({"member_id": member_id, "week_start": week_start, "url": link.url,
                             "shortcode": link.shortcode, "source": source,
                             "submitted_at": when})
                book.counts[member_id] = done.count
                book.owners[link.shortcode] = (member_id, 0)
            results.append(done)
        if rows:  # Core, not the ORM: nothing here needs the rows back as objects
            await self.session.execute(insert(Submission.__table__), rows)
        return results

    async def count_of_week(self, week: Week) -> int:
        """The week's active posts (what a check of the week would look at)."""
        return len(await self.submissions.of_week(week.start))

    async def mine(self, member_id: int, now: datetime) -> list[Submission]:
        week = self.week(now)
        return [s for s in await self.submissions.of_week(week.start) if s.member_id == member_id]

    async def withdraw(self, member_id: int, submission_id: int, now: datetime) -> WithdrawResult:
        """Take a link back before the deadline; its verification rows go with it."""
        row = await self.session.get(Submission, submission_id)
        if row is None or row.member_id != member_id or row.week_start != self.week(now).start:
            return WithdrawResult.NOT_FOUND
        if not self.is_open(now):
            return WithdrawResult.CLOSED
        await self.session.execute(delete(Submission).where(Submission.id == submission_id))
        return WithdrawResult.WITHDRAWN
