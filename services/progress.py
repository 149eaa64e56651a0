"""What a member sees of the exchange: this week's to-do list and last week's results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules import CommunityRules
from services.weeks import Week
from storage.models import Member, Submission, Verification

# A post nobody has checked yet has no verification row.
UNCHECKED = "unchecked"


@dataclass(frozen=True)
class TodoItem:
    submission_id: int
    owner: str
    url: str
    status: str  # done, missing, unknown or unchecked


@dataclass
class StatusView:
    week: Week
    todo: list[TodoItem]
    own: list[Submission]
    minimum: int
    maximum: int
    submission_deadline: datetime
    comment_deadline: datetime

    @property
    def open_items(self) -> list[TodoItem]:
        return [item for item in self.todo if item.status != "done"]


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


class ProgressService:
    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules

    async def _week_rows(self, week: Week) -> list[tuple[Submission, str]]:
        rows = await self.session.execute(
            select(Submission, Member.instagram_username)
            .join(Member, Member.id == Submission.member_id)
            .where(
                Submission.week_start == week.start,
                Submission.status == "active",
                Member.status == "active",
            )
            .order_by(Submission.submitted_at, Submission.id)
        )
        return [(s, name) for s, name in rows.all()]

    async def _verifications(self, submission_ids: list[int]) -> dict[tuple[int, int], str]:
        if not submission_ids:
            return {}
        rows = await self.session.execute(
            select(Verification.member_id, Verification.submission_id, Verification.status).where(
                Verification.submission_id.in_(submission_ids)
            )
        )
        return {(m, s): status for m, s, status in rows.all()}

    def _todo(
        self, member_id: int, rows: list[tuple[Submission, str]], checks: dict[tuple[int, int], str]
    ) -> list[TodoItem]:
        return [
            TodoItem(sub.id, owner, sub.url, checks.get((member_id, sub.id), UNCHECKED))
            for sub, owner in rows
            if sub.member_id != member_id
        ]

    async def status(self, member_id: int, now: datetime) -> StatusView:
        week = Week.containing(now, self.rules.timezone)
        rows = await self._week_rows(week)
        checks = await self._verifications([s.id for s, _ in rows])
        own = [s for s, _ in rows if s.member_id == member_id]
        return StatusView(
            week,
            self._todo(member_id, rows, checks),
            own,
            self.rules.weekly_min_posts,
            self.rules.weekly_max_posts,
            week.at(self.rules.submission_deadline),
            week.at(self.rules.comment_deadline),
        )

    async def results(self, member_id: int, now: datetime) -> ResultsView:
        """The last finished week: the one before the current week."""
        week = Week.containing(now, self.rules.timezone).previous()
        rows = await self._week_rows(week)
        checks = await self._verifications([s.id for s, _ in rows])
        view = ResultsView(
            week,
            self._todo(member_id, rows, checks),
            sum(1 for s, _ in rows if s.member_id == member_id),
            self.rules.weekly_min_posts,
            posts=len(rows),
            checked=bool(checks),
        )
        members = await self.session.execute(
            select(Member.id, Member.instagram_username).where(Member.status == "active")
        )
        for other_id, username in members.all():
            statuses = [item.status for item in self._todo(other_id, rows, checks)]
            if not statuses:
                continue
            if "missing" in statuses:
                view.members_missing += 1
                view.missing_by_member[username] = statuses.count("missing")
            elif all(s == "done" for s in statuses):
                view.members_done += 1
            else:
                view.members_unknown += 1
        return view
