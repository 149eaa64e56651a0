"""Weekly link submission: quota, duplicates, deadline, withdrawal.

A post is the member's own when they are its author or one of its co-authors (a collab
post): by Instagram's pk where the member's and the read's are both known, else by name.
A collab post counts once, for the member who handed it in first; another co-author
member who hands it in is told who did (co-author members owe nothing on it). A post
handed in in an earlier week (any member's) is refused, unless the community allows
resubmitted posts (`allow_resubmitted_posts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.gateway import PostInfo
from services.instagram.names import name_key
from services.members.instagram_identities import learn_in_transaction
from services.members.queries import MemberRepo
from services.rules import CommunityRules
from services.week.calendar import Week
from services.week.post_links import PostLink
from services.week.progress import HANDED_IN
from storage.models import Member, Submission, utcnow

_S = Submission.__table__.c
BOOK = select(_S.member_id, _S.shortcode, _S.id, _S.status).where(
    _S.week_start == bindparam("week"))
# A link's decision needs the member's own submissions and the post's, if handed in:
# a few rows, where the whole week's is a thousand in a big community.
BOOK_FOR_ONE = BOOK.where((_S.member_id == bindparam("member"))
                          | (_S.shortcode == bindparam("shortcode")))
# The last earlier week a post was handed in (the index on shortcode finds its rows).
EARLIER_WEEK = select(func.max(_S.week_start)).where(
    _S.shortcode == bindparam("shortcode"), _S.week_start < bindparam("week"))
# Shortcodes per query of an import: under SQLite's and asyncpg's bound-parameter limits
# (about 32,000), so a usual import asks once.
CODES_PER_QUERY = 5000


class SubmissionRepo:
    """Submissions written one at a time (the chat's submit flow, the demo, the sample
    community); the import writes its own in bulk."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        member_id: int,
        week_start: date,
        url: str,
        shortcode: str,
        *,
        source: str = "chat",
        submitted_at: datetime | None = None,
    ) -> Submission:
        submission = Submission(
            member_id=member_id,
            week_start=week_start,
            url=url,
            shortcode=shortcode,
            source=source,
            submitted_at=submitted_at or utcnow(),
        )
        self.session.add(submission)
        await self.session.flush()
        return submission

    async def of_week(self, week_start: date) -> list[Submission]:
        rows = await self.session.scalars(
            select(Submission)
            .where(Submission.week_start == week_start, Submission.status == "active")
            .order_by(Submission.submitted_at, Submission.id)
        )
        return list(rows)


class SubmitResult(Enum):
    ACCEPTED = "accepted"
    OVER_MAX = "over_max"
    DUPLICATE_OWN = "duplicate_own"
    DUPLICATE_OTHER = "duplicate_other"
    CLOSED = "closed"
    NOT_ACTIVE = "not_active"
    FOREIGN = "foreign"  # neither the post's author nor a co-author is the member
    # A collab post another of its authors (a member) handed in this week: it counts
    # once, for them.
    DUPLICATE_COAUTHOR = "duplicate_coauthor"
    EARLIER_WEEK = "earlier_week"  # handed in in an earlier week (any member's)


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
    owner: str | None = None  # DUPLICATE_COAUTHOR: the member who handed it in
    earlier_week: date | None = None  # EARLIER_WEEK: the Monday of the last such week
    # The member's Instagram name, (old, new), when this read showed them renamed.
    renamed: tuple[str, str] | None = None


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

    async def refusal(self, member_id: int, now: datetime) -> Submitted | None:
        """Why any link this member sent now would be refused (paused or suspended, the
        deadline passed, the quota full); None: a link may be taken. Asked before a link
        is asked for, looked at on Instagram or offered as a button."""
        member = await self.members.get(member_id)
        book = await self._book(self.week(now), member_id, "")  # "" is no post's code
        return self._refused(book, member is not None and member.status == "active",
                             member_id, now)

    def _refused(self, book: WeekBook, active: bool, member_id: int, now: datetime
                 ) -> Submitted | None:
        """The rules that refuse whatever the link: the one place that decides them."""
        count, maximum = book.counts.get(member_id, 0), self.rules.weekly_max_posts
        if not active:
            return Submitted(SubmitResult.NOT_ACTIVE, count, maximum)
        if now > book.closes_at:
            return Submitted(SubmitResult.CLOSED, count, maximum)
        if count >= maximum:
            return Submitted(SubmitResult.OVER_MAX, count, maximum)
        return None

    def _decide(self, book: WeekBook, active: bool, member_id: int, link: PostLink,
                now: datetime) -> Submitted:
        """The quota, deadline and duplicate rules, on what is known of the week (a post
        handed in already is named as such even at a full quota)."""
        count, maximum = book.counts.get(member_id, 0), self.rules.weekly_max_posts
        refused = self._refused(book, active, member_id, now)
        if refused is not None and refused.result is not SubmitResult.OVER_MAX:
            return refused
        if link.shortcode in book.owners:
            owner, existing_id = book.owners[link.shortcode]
            own = owner == member_id
            result = SubmitResult.DUPLICATE_OWN if own else SubmitResult.DUPLICATE_OTHER
            return Submitted(result, count, maximum, existing_id)
        if refused is not None:
            return refused
        return Submitted(SubmitResult.ACCEPTED, count + 1, maximum)

    async def submit(
        self, member_id: int, link: PostLink, now: datetime, source: str = "chat",
        info: PostInfo | None = None,
    ) -> Submitted:
        """Hand in a post; when Instagram was asked (`info`), the member must be its
        author or a co-author. A post another member handed in but the submitter wrote
        moves to them, unless that member is one of its authors too. What the read
        showed of the member (their pk, a new name) is learned."""
        member = await self.members.get(member_id)
        shown = _shown_as(member, info) if member is not None and info is not None else None
        done = await self._submit(member, member_id, link, now, source, info, shown)
        if member is None or shown is None or shown[1] is None:
            return done
        name, pk = shown
        renamed = await learn_in_transaction(self.session, {member_id: (pk, name)}, now)
        return replace(done, renamed=(renamed[0][1], renamed[0][2])) if renamed else done

    async def _submit(self, member: Member | None, member_id: int, link: PostLink,
                      now: datetime, source: str, info: PostInfo | None,
                      shown: tuple[str, str | None] | None) -> Submitted:
        week = self.week(now)
        active = member is not None and member.status == "active"
        book = await self._book(week, member_id, link.shortcode)
        done = self._decide(book, active, member_id, link, now)
        count = book.counts.get(member_id, 0)
        if info is not None and shown is None and done.result in (
                SubmitResult.ACCEPTED, SubmitResult.DUPLICATE_OTHER):
            return replace(done, result=SubmitResult.FOREIGN, count=count,
                           author=name_key(info.author))
        if done.result is SubmitResult.DUPLICATE_OTHER and info is not None:
            first = await self.session.get(Member, book.owners[link.shortcode][0])
            if first is not None and _shown_as(first, info) is not None:
                return replace(done, result=SubmitResult.DUPLICATE_COAUTHOR,
                               owner=first.instagram_username)
            taken = await self._take_back(member_id, book, done, info, now)
            if taken is not None:
                return taken
            # The other member's row was withdrawn meanwhile: a new one.
            done = Submitted(SubmitResult.ACCEPTED, count + 1, done.maximum)
        if done.result is not SubmitResult.ACCEPTED:
            return done
        if not self.rules.allow_resubmitted_posts:
            earlier = await self.session.scalar(
                EARLIER_WEEK, {"shortcode": link.shortcode, "week": week.start})
            if earlier is not None:
                return Submitted(SubmitResult.EARLIER_WEEK, count, done.maximum,
                                 earlier_week=earlier)
        row = await self.submissions.add(
            member_id, week.start, link.url, link.shortcode, source=source, submitted_at=now
        )
        _write_info(row, info)
        return replace(done, submission_id=row.id, author=row.author)

    async def _take_back(self, member_id: int, book: WeekBook, done: Submitted,
                         info: PostInfo, now: datetime) -> Submitted | None:
        """The author (or a co-author) hands in their own post that someone who is
        neither had handed in (a repost of their link): the submission becomes theirs,
        within their quota (None: that row is gone since)."""
        count = book.counts.get(member_id, 0)
        if count >= done.maximum:
            return Submitted(SubmitResult.OVER_MAX, count, done.maximum)
        row = await self.session.get(Submission, done.submission_id)
        if row is None:
            return None
        row.member_id, row.status, row.submitted_at = member_id, "active", now
        _write_info(row, info)
        await self.session.flush()
        return Submitted(SubmitResult.ACCEPTED, count + 1, done.maximum, row.id, row.author)

    async def submit_many(
        self, items: list[tuple[int, PostLink, datetime]], source: str
    ) -> list[Submitted]:
        """The same rules for many links at once (an open-chat import): each week's
        submissions are read once, the weeks the links were handed in before in one
        query, and the new rows are written in one bulk INSERT."""
        statuses = dict((await self.session.execute(select(Member.id, Member.status))).all())
        handed_in: dict[str, set[date]] = {}  # shortcode -> the weeks it was handed in
        if not self.rules.allow_resubmitted_posts:
            handed_in = await self._weeks_of(sorted({link.shortcode for _, link, _ in items}))
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
            before = [w for w in handed_in.get(link.shortcode, ()) if w < week_start]
            if done.result is SubmitResult.ACCEPTED and before:
                done = Submitted(SubmitResult.EARLIER_WEEK, book.counts.get(member_id, 0),
                                 done.maximum, earlier_week=max(before))
            if done.result is SubmitResult.ACCEPTED:
                if not self.rules.allow_resubmitted_posts:
                    handed_in.setdefault(link.shortcode, set()).add(week_start)
                rows.append({"member_id": member_id, "week_start": week_start, "url": link.url,
                             "shortcode": link.shortcode, "source": source,
                             "submitted_at": when})
                book.counts[member_id] = done.count
                book.owners[link.shortcode] = (member_id, 0)
            results.append(done)
        if rows:  # Core, not the ORM: nothing here needs the rows back as objects
            await self.session.execute(insert(Submission.__table__), rows)
        return results

    async def _weeks_of(self, codes: list[str]) -> dict[str, set[date]]:
        """The weeks each of these posts was handed in (by anyone)."""
        found: dict[str, set[date]] = {}
        for at in range(0, len(codes), CODES_PER_QUERY):
            rows = await self.session.execute(select(_S.shortcode, _S.week_start).where(
                _S.shortcode.in_(codes[at:at + CODES_PER_QUERY])))
            for code, week_start in rows.all():
                found.setdefault(code, set()).add(week_start)
        return found

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


def _shown_as(member: Member, info: PostInfo) -> tuple[str, str | None] | None:
    """How the post shows the member, as its author or a co-author: (name, pk); None
    when it does not. By pk where the member's and the read's are both known (a member
    who renamed on Instagram is still found), else by name."""
    mine = name_key(member.instagram_username)
    for name, pk in ((info.author, info.author_pk), *info.coauthors.items()):
        if not name:
            continue
        if member.instagram_pk is not None and pk is not None:
            if pk == member.instagram_pk:
                return name_key(name), pk
        elif name_key(name) == mine:
            return name_key(name), pk
    return None


def _write_info(row: Submission, info: PostInfo | None) -> None:
    """What the read at submission said of the post's authors, on its row."""
    if info is None:
        row.author = row.author_pk = row.coauthors = None
        return
    row.author, row.author_pk = name_key(info.author), info.author_pk
    row.coauthors = " ".join(sorted(name_key(c) for c in info.coauthors)) or None
