"""What a member sees of the exchange: this week's to-do list and last week's results.

A week that had its final check is read from its record (services/week/record.py): who
was active, who owed what, what each handed in and every verdict, as they were then,
with the corrections made since. A week without a record (this week, or one nobody
checked) is computed from today's members and verification rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import (
    Boolean,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules import CommunityRules
from services.week.calendar import Week
from storage.models import (
    JobRun,
    Member,
    Submission,
    Verification,
    WeekCorrection,
    WeekRecord,
    WeekRecordEntry,
    WeekRecordMember,
    WeekRecordPost,
)

# A post nobody has checked yet has no verification row.
UNCHECKED = "unchecked"
# Verdicts that count against a member: no comment, or only one after the deadline.
MISSED = ("missing", "late")
COAUTHOR = "coauthor"  # a co-author of the post: owes nothing on it
# Posts that count as handed in; only "active" ones are owed comments.
HANDED_IN = ("active", "comments_off")


class PostRow(NamedTuple):
    """A handed-in post as a to-do list needs it, with its owner's name: the columns of
    WEEK_ROWS, as a plain tuple (the week's results go through every post for every
    member, and a result row's attributes cost ten times a tuple's)."""

    id: int
    member_id: int
    url: str
    shortcode: str
    status: str
    submitted_at: datetime | None  # None: not read (a /status needs no times)
    owner: str


_S, _M, _V = (model.__table__.c for model in (Submission, Member, Verification))
WEEK_ROWS = (
    select(_S.id, _S.member_id, _S.url, _S.shortcode, _S.status, _S.submitted_at,
           _M.instagram_username.label("owner"))
    .select_from(Submission.__table__).join(Member.__table__, _M.id == _S.member_id)
    .where(_S.week_start == bindparam("week"), _S.status.in_(HANDED_IN),
           _M.status == "active")
    .order_by(_S.submitted_at, _S.id)
)  # built once, on the tables: building it and the ORM's result work cost more than
#    running it, and the board and the results run it often
# One member's /status in SQL: the posts they owe, with their verdict on each, those
# still open first and only as many as are shown, and (window counts over all of them,
# before the LIMIT) how many they owe and have done. A post handed in before the member
# joined is left out when the rules excuse it (`late`). A thousand-member week owes two
# thousand posts; a chat shows a hundred, so the rest never leave the database.
_JOINER = Member.__table__.alias("joiner")
_EARLY = and_(bindparam("late", type_=Boolean()), _S.submitted_at < select(
    _JOINER.c.joined_at).where(_JOINER.c.id == bindparam("member")).scalar_subquery())
_DONE = _V.status == "done"
STATUS_TODO = (
    select(_S.id, _M.instagram_username, _S.url, _V.status, _S.shortcode,
           func.count().over().label("owed"),
           func.count(case((_DONE, 1))).over().label("done"))
    .select_from(Submission.__table__).join(Member.__table__, _M.id == _S.member_id)
    .outerjoin(Verification.__table__, and_(_V.submission_id == _S.id,
                                            _V.member_id == bindparam("member")))
    .where(_S.week_start == bindparam("week"), _S.status == "active",
           _M.status == "active", _S.member_id != bindparam("member"),
           not_(func.coalesce(_EARLY, false())),
           func.coalesce(_V.status, "") != COAUTHOR)
    .order_by(case((_DONE, 1), else_=0), _S.submitted_at, _S.id)
    .limit(bindparam("shown"))
)
STATUS_OWN = (  # the member's own handed-in posts (comments-off ones too)
    select(_S.id, _S.member_id, _S.url, _S.shortcode, _S.status, null(),
           _M.instagram_username)
    .select_from(Submission.__table__).join(Member.__table__, _M.id == _S.member_id)
    .where(_S.week_start == bindparam("week"), _S.member_id == bindparam("member"),
           _S.status.in_(HANDED_IN), _M.status == "active")
    .order_by(_S.submitted_at, _S.id)
)
ALL = 2**31 - 1  # `shown` for every post (a LIMIT both databases take)
MEMBER_VERDICTS = (
    select(_V.submission_id, _V.status, _V.checked_at)
    .select_from(Verification.__table__).join(Submission.__table__, _S.id == _V.submission_id)
    .where(_S.week_start == bindparam("week"), _V.member_id == bindparam("member"))
)
JOINED = select(_M.joined_at).where(_M.id == bindparam("member"))
# A recorded week's 결과 for one member (ProgressService._recorded_results): the
# member's own lines of the record, and every member's standing counted in the database.
_R, _RM, _RP, _RE = (model.__table__.c for model in (
    WeekRecord, WeekRecordMember, WeekRecordPost, WeekRecordEntry))
RECORD_CHECKED = select(_R.checked).where(_R.week_start == bindparam("week"))
RECORD_MINE = (
    select(_RM.username, _RM.submitted)
    .where(_RM.week_start == bindparam("week"), _RM.member_id == bindparam("member"))
    .order_by(_RM.username).limit(1)
)
RECORD_POSTS = (
    select(func.count()).select_from(WeekRecordPost.__table__)
    .where(_RP.week_start == bindparam("week"), _RP.state.in_(("counted", "comments_off")))
)
RECORD_ENTRIES = (
    select(_RP.submission_id, _RP.owner, _RP.url, _RE.status, _RP.submitted_at, _RP.shortcode)
    .select_from(WeekRecordEntry.__table__).join(WeekRecordPost.__table__,
                                                  _RP.id == _RE.post_id)
    .where(_RE.week_start == bindparam("week"), _RE.username == bindparam("name"))
)
# The same for a week without a record, from today's members and verification rows, by
# the rules `_todo` and `_verifications` apply: each active member owes every other
# active member's active post (but those handed in before they joined, unless the rules
# say otherwise, and those they co-authored); a "missing" read before the comment
# deadline is not a miss yet.
_DEBTOR = Member.__table__.alias("debtor")
_MISSED = or_(_V.status == "late", and_(_V.status == "missing",
                                        _V.checked_at >= bindparam("cutoff")))
ACTIVE_JOINED = select(_M.joined_at).where(_M.id == bindparam("member"), _M.status == "active")
LIVE_CHECKED = select(exists().where(
    _V.submission_id == _S.id, _S.week_start == bindparam("week"), _S.status.in_(HANDED_IN),
    _S.member_id == _M.id, _M.status == "active"))
# The week's owed posts first, on their own (MATERIALIZED, PostgreSQL 12 and later: a
# planner without statistics, on a database just filled, would otherwise look each
# post's owner up once per member).
_OWED = (
    select(_S.id, _S.member_id, _S.submitted_at)
    .select_from(Submission.__table__).join(Member.__table__, _M.id == _S.member_id)
    .where(_S.week_start == bindparam("week"), _S.status == "active", _M.status == "active")
    .cte("owed").prefix_with("MATERIALIZED", dialect="postgresql")
)
_VERDICT = and_(_V.submission_id == _OWED.c.id, _V.member_id == _DEBTOR.c.id)
LIVE_STANDING = (  # (username, owed, missed, done) of each active member who owes
    select(_DEBTOR.c.instagram_username, func.count(), func.count(case((_MISSED, 1))),
           func.count(case((_DONE, 1))))
    .select_from(_DEBTOR)
    .join(_OWED, _OWED.c.member_id != _DEBTOR.c.id)
    .outerjoin(Verification.__table__, _VERDICT)
    .where(_DEBTOR.c.status == "active",
           not_(func.coalesce(and_(bindparam("late", type_=Boolean()),
                                   _OWED.c.submitted_at < _DEBTOR.c.joined_at), false())),
           func.coalesce(_V.status, "") != COAUTHOR)
    .group_by(_DEBTOR.c.id, _DEBTOR.c.instagram_username)
)
RECORD_STANDING = (  # (username, owed, missed, done) of each recorded member who owed
    select(_RE.username, func.count(), func.count(case((_RE.status.in_(MISSED), 1))),
           func.count(case((_RE.status == "done", 1))))
    .select_from(WeekRecordEntry.__table__).join(WeekRecordMember.__table__, and_(
        _RM.week_start == _RE.week_start, _RM.username == _RE.username))
    .where(_RE.week_start == bindparam("week"))
    .group_by(_RE.username).order_by(_RE.username)
)


class TodoItem(NamedTuple):
    """One post a member owes a comment on. A tuple: /status makes one for every post
    of the week, and a frozen dataclass costs three times as much to make."""

    submission_id: int
    owner: str
    url: str
    status: str  # done, missing, unknown or unchecked
    submitted_at: datetime | None = None
    shortcode: str = ""


@dataclass
class StatusView:
    week: Week
    todo: list[TodoItem]  # those still open first; every post, or the first `shown`
    own: list[PostRow]
    minimum: int
    maximum: int
    submission_deadline: datetime
    comment_deadline: datetime
    owed: int = 0  # posts the member owes a comment on this week, shown or not
    done: int = 0

    @property
    def open_items(self) -> list[TodoItem]:
        """The open posts among those shown."""
        return [item for item in self.todo if item.status != "done"]

    @property
    def left(self) -> int:
        """Posts still open, shown or not."""
        return self.owed - self.done


@dataclass
class ResultsView:
    week: Week
    owed: list[TodoItem]
    own_count: int
    minimum: int
    # The community: posts, members who owed something, and how they stand.
    posts: int = 0
    members_done: int = 0
    members_missing: int = 0
    members_unknown: int = 0
    checked: bool = False
    missing_by_member: dict[str, int] = field(default_factory=dict)
    # False: the member was not active in that week (joined since, paused, suspended).
    took_part: bool = True
    corrections: list[WeekCorrection] = field(default_factory=list)


@dataclass
class MemberResult:
    member_id: int | None  # None: deleted since the week was recorded
    username: str
    owed: int
    done: int
    missing: list[TodoItem]
    unknown: int
    submitted: int
    todo: list[TodoItem] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.owed > 0 and self.done == self.owed


@dataclass
class WeekResults:
    """The whole community's week, for the group post and the private summaries."""

    week: Week
    posts: int
    members: list[MemberResult]
    checked: bool
    corrections: list[WeekCorrection] = field(default_factory=list)

    @property
    def completed(self) -> list[MemberResult]:
        return [m for m in self.members if m.complete]

    @property
    def missing(self) -> list[MemberResult]:
        return [m for m in self.members if m.missing]

    @property
    def unknown_only(self) -> list[MemberResult]:
        return [m for m in self.members if not m.missing and m.unknown]

    @property
    def not_submitted(self) -> list[MemberResult]:
        return [m for m in self.members if m.submitted == 0]

    def unchecked(self, reasons: dict[str, str]) -> dict[str, tuple[str, str]]:
        """Posts someone's verdict is still open on (unknown or never checked):
        url -> (owner, reason code), the reason taken from `reasons` by shortcode."""
        found: dict[str, tuple[str, str]] = {}
        for member in self.members:
            for item in member.todo:
                if item.status in ("unknown", UNCHECKED) and item.url not in found:
                    code = reasons.get(item.shortcode,
                                       "not_checked" if item.status == UNCHECKED else "transient")
                    found[item.url] = (item.owner, code)
        return found


class ProgressService:
    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules

    async def _week_rows(self, week: Week) -> list[PostRow]:
        """The week's handed-in posts of active members (owed: the "active" ones)."""
        rows = await self.session.execute(WEEK_ROWS, {"week": week.start})
        return [PostRow._make(row) for row in rows.all()]

    async def _member_verifications(self, member_id: int, week_start: date
                                    ) -> dict[tuple[int, int], str]:
        """One member's verdicts of a week, keyed as `_verifications` keys them."""
        rows = await self.session.execute(MEMBER_VERDICTS,
                                          {"week": week_start, "member": member_id})
        cutoff = self.rules.comment_cutoff(Week(week_start, self.rules.timezone))
        return {(member_id, s): "unknown" if status == "missing" and at < cutoff else status
                for s, status, at in rows.all()}

    async def _verifications(self, submission_ids: list[int], week: Week
                             ) -> dict[tuple[int, int], str]:
        """The posts' verdicts as the week's results take them: a "missing" read before
        the comment deadline was a to-do, not a verdict, so unless a read after the
        deadline confirmed it, it is "couldn't check" (unknown) and never strikes."""
        if not submission_ids:
            return {}
        cutoff = self.rules.comment_cutoff(week)
        rows = await self.session.execute(
            select(Verification.member_id, Verification.submission_id, Verification.status,
                   Verification.checked_at)
            .where(Verification.submission_id.in_(submission_ids)))
        return {(m, s): "unknown" if status == "missing" and at < cutoff else status
                for m, s, status, at in rows.all()}

    async def verdicts_of(self, submission_ids: list[int], week: Week
                          ) -> dict[tuple[int, int], str]:
        """(member id, post id) -> verdict as the week's results take it."""
        return await self._verifications(sorted(set(submission_ids)), week)

    def _todo(
        self, member_id: int, rows: list[PostRow],
        checks: dict[tuple[int, int], str], joined: datetime | None = None,
    ) -> list[TodoItem]:
        """What a member owes: every other post, except (by the rules) those handed in
        before the member joined; the same rule as the verification's."""
        late = joined is not None and not self.rules.late_joiners_owe_earlier_posts
        items = [  # unpacked: every post, for every member of the week's results
            TodoItem(post, owner, url, checks.get((member_id, post), UNCHECKED), at, code)
            for post, owner_id, url, code, status, at, owner in rows
            if status == "active" and owner_id != member_id and not (late and at < joined)
        ]
        return [item for item in items if item.status != COAUTHOR]

    async def _joined(self, member_id: int) -> datetime | None:
        return await self.session.scalar(JOINED, {"member": member_id})

    async def status(self, member_id: int, now: datetime, shown: int = ALL) -> StatusView:
        """The member's week: what they owe (the first `shown` posts, those still open
        first, and how many in all), what they handed in. Every /status runs it over the
        whole week, so the database sorts, counts and cuts the list."""
        week = Week.containing(now, self.rules.timezone)
        params = {"week": week.start, "member": member_id, "shown": shown,
                  "late": not self.rules.late_joiners_owe_earlier_posts}
        rows = (await self.session.execute(STATUS_TODO, params)).all()
        owed, done = (rows[0][5], rows[0][6]) if rows else (0, 0)  # the same on every row
        todo = [TodoItem(post, owner, url, verdict or UNCHECKED, None, code)
                for post, owner, url, verdict, code, _, _ in rows]
        own = [PostRow._make(row) for row in
               (await self.session.execute(STATUS_OWN, params)).all()]
        return StatusView(
            week, todo, own, self.rules.weekly_min_posts, self.rules.weekly_max_posts,
            week.at(self.rules.submission_deadline), week.at(self.rules.comment_deadline),
            owed, done)

    async def week_results(self, week: Week) -> WeekResults:
        """The community's week: its record when it has one, else computed now."""
        return await self.recorded(week) or await self.live_week_results(week)

    async def live_week_results(self, week: Week) -> WeekResults:
        """The week as today's members and verification rows say (what gets recorded)."""
        rows = await self._week_rows(week)
        checks = await self._verifications([s.id for s in rows], week)
        members = await self.session.execute(
            select(Member.id, Member.instagram_username, Member.joined_at)
            .where(Member.status == "active").order_by(Member.instagram_username)
        )
        results = []
        for member_id, username, joined in members.all():
            todo = self._todo(member_id, rows, checks, joined)
            done = sum(1 for item in todo if item.status == "done")
            missing = [item for item in todo if item.status in MISSED]
            results.append(MemberResult(
                member_id, username, len(todo), done, missing,
                len(todo) - done - len(missing),
                sum(1 for s in rows if s.member_id == member_id), todo))
        return WeekResults(week, len(rows), results, bool(checks))

    async def recorded(self, week: Week) -> WeekResults | None:
        """A finished week as recorded at its final check, corrections applied."""
        record = await self.session.scalar(
            select(WeekRecord).where(WeekRecord.week_start == week.start))
        if record is None:
            return None
        posts = {p.id: p for p in await self.session.scalars(
            select(WeekRecordPost).where(WeekRecordPost.week_start == week.start))}
        todo: dict[str, list[TodoItem]] = {}
        entries = await self.session.execute(
            select(WeekRecordEntry.username, WeekRecordEntry.post_id, WeekRecordEntry.status)
            .where(WeekRecordEntry.week_start == week.start))
        for username, post_id, status in entries.all():
            post = posts[post_id]
            todo.setdefault(username, []).append(TodoItem(
                post.submission_id or 0, post.owner, post.url, status, post.submitted_at,
                post.shortcode))
        members = []
        for row in await self.session.scalars(
                select(WeekRecordMember).where(WeekRecordMember.week_start == week.start)
                .order_by(WeekRecordMember.username)):
            items = sorted(todo.get(row.username, []), key=lambda i: (i.submitted_at, i.url))
            done = sum(1 for i in items if i.status == "done")
            missing = [i for i in items if i.status in MISSED]
            members.append(MemberResult(row.member_id, row.username, len(items), done, missing,
                                        len(items) - done - len(missing), row.submitted, items))
        corrections = list(await self.session.scalars(
            select(WeekCorrection).where(WeekCorrection.week_start == week.start)
            .order_by(WeekCorrection.at, WeekCorrection.id)))
        handed_in = sum(1 for p in posts.values() if p.state in ("counted", "comments_off"))
        return WeekResults(week, handed_in, members, record.checked, corrections)

    async def live_todo_of(self, member_id: int, week: Week) -> dict[int, str]:
        """Submission id -> this member's verdict now, over the week's posts."""
        verdicts = await self._member_verifications(member_id, week.start)
        return {submission: status for (_, submission), status in verdicts.items()}

    async def live_todo(self, member_id: int, week: Week) -> list[TodoItem]:
        """What a member owes in a week as it stands now, with each verdict."""
        rows = await self._week_rows(week)
        checks = await self._member_verifications(member_id, week.start)
        return self._todo(member_id, rows, checks, await self._joined(member_id))

    async def missing_for(self, member_id: int, week: Week) -> list[TodoItem]:
        """One member's posts still "missing" in a week (whatever their status now)."""
        recorded = await self.recorded(week)
        if recorded is not None:
            mine = next((m for m in recorded.members if m.member_id == member_id), None)
            return list(mine.missing) if mine else []
        return [item for item in await self.live_todo(member_id, week)
                if item.status in MISSED]

    async def check_reasons(self, week: Week) -> dict[str, str]:
        """Shortcode -> why the week's final check could not read it (from its record)."""
        run = await self.session.scalar(
            select(JobRun).where(JobRun.job == "final", JobRun.period == week.label))
        report = (run.summary or {}).get("report", {}) if run else {}
        reasons = {str(s): "incomplete" for s in report.get("incomplete", [])}
        reasons.update({str(k): str(v) for k, v in report.get("failed", {}).items()})
        return reasons

    async def results(self, member_id: int, now: datetime) -> ResultsView:
        """The last finished week (the one before the current week), for one member.

        A recorded week is read for this member only, the community's standing counted
        by the database (`_recorded_results`); a week without a record is computed."""
        week = Week.containing(now, self.rules.timezone).previous()
        checked = await self.session.scalar(RECORD_CHECKED, {"week": week.start})
        if checked is not None:
            return await self._recorded_results(week, member_id, checked)
        return await self._live_results(week, member_id)

    async def _live_results(self, week: Week, member_id: int) -> ResultsView:
        """`results` of a week without a record (its final check has not finished: just
        after the deadline, when everybody asks), as `live_week_results` would give it:
        the member's own to-do list as /status makes it, the community's standing
        counted by the database instead of a to-do list built for every member."""
        rows = await self._week_rows(week)
        joined = (await self.session.execute(ACTIVE_JOINED, {"member": member_id})).first()
        checked = bool(rows) and bool(await self.session.scalar(LIVE_CHECKED,
                                                               {"week": week.start}))
        view = ResultsView(week, [], 0, self.rules.weekly_min_posts, posts=len(rows),
                           checked=checked, took_part=joined is not None)
        if joined is not None:
            verdicts = await self._member_verifications(member_id, week.start)
            view.owed = self._todo(member_id, rows, verdicts, joined[0])
            view.own_count = sum(1 for row in rows if row.member_id == member_id)
        standing = await self.session.execute(LIVE_STANDING, {
            "week": week.start, "cutoff": self.rules.comment_cutoff(week),
            "late": not self.rules.late_joiners_owe_earlier_posts})
        for username, owed, missed, done in standing.all():
            _count_member(view, username, owed, missed, done)
        return view

    async def _recorded_results(self, week: Week, member_id: int, checked: bool
                                ) -> ResultsView:
        """`results` of a recorded week, as `recorded` would give it, without loading
        the whole record: every member's 결과 used to turn each owed comment of the
        community (25,000 rows at 100 members) into objects while other chats waited."""
        params = {"week": week.start, "member": member_id}
        mine = (await self.session.execute(RECORD_MINE, params)).first()
        posts = await self.session.scalar(RECORD_POSTS, params) or 0
        view = ResultsView(week, [], 0, self.rules.weekly_min_posts, posts=posts,
                           checked=checked, took_part=mine is not None)
        if mine is not None:
            username, view.own_count = mine
            entries = await self.session.execute(RECORD_ENTRIES, {**params, "name": username})
            view.owed = sorted((TodoItem(submission or 0, owner, url, status, at, code)
                                for submission, owner, url, status, at, code in entries.all()),
                               key=lambda i: (i.submitted_at, i.url))
            view.corrections = list(await self.session.scalars(
                select(WeekCorrection).where(WeekCorrection.week_start == week.start,
                                             WeekCorrection.username == username)
                .order_by(WeekCorrection.at, WeekCorrection.id)))
        for username, owed, missed, done in await self.session.execute(RECORD_STANDING,
                                                                       params):
            _count_member(view, username, owed, missed, done)
        return view


def _count_member(view: ResultsView, username: str, owed: int, missed: int,
                  done: int) -> None:
    """One member who owed something, counted in the community's standing."""
    if missed:
        view.members_missing += 1
        view.missing_by_member[username] = missed
    elif done == owed:
        view.members_done += 1
    else:
        view.members_unknown += 1
