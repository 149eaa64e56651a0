"""Weekly link submission: quota, duplicates, deadline, withdrawal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.links import PostLink
from services.rules import CommunityRules
from services.weeks import Week
from storage.models import Submission
from storage.repositories.members import MemberRepo
from storage.repositories.weekly import SubmissionRepo


class SubmitResult(Enum):
    ACCEPTED = "accepted"
    OVER_MAX = "over_max"
    DUPLICATE_OWN = "duplicate_own"
    DUPLICATE_OTHER = "duplicate_other"
    CLOSED = "closed"
    NOT_ACTIVE = "not_active"


@dataclass(frozen=True)
class Submitted:
    result: SubmitResult
    count: int  # the member's submissions this week after this attempt
    maximum: int
    submission_id: int | None = None


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

    async def submit(
        self, member_id: int, link: PostLink, now: datetime, source: str = "chat"
    ) -> Submitted:
        week = self.week(now)
        count = await self.submissions.count_for(member_id, week.start)
        maximum = self.rules.weekly_max_posts
        member = await self.members.get(member_id)
        if member is None or member.status != "active":
            return Submitted(SubmitResult.NOT_ACTIVE, count, maximum)
        if not self.is_open(now):
            return Submitted(SubmitResult.CLOSED, count, maximum)
        existing = await self.submissions.by_shortcode(week.start, link.shortcode)
        if existing is not None:
            own = existing.member_id == member_id
            result = SubmitResult.DUPLICATE_OWN if own else SubmitResult.DUPLICATE_OTHER
            return Submitted(result, count, maximum, existing.id)
        if count >= maximum:
            return Submitted(SubmitResult.OVER_MAX, count, maximum)
        row = await self.submissions.add(
            member_id, week.start, link.url, link.shortcode, source=source, submitted_at=now
        )
        return Submitted(SubmitResult.ACCEPTED, count + 1, maximum, row.id)

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
