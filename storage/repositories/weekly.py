"""Weekly submissions and their verification rows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Submission, Verification, utcnow


class SubmissionRepo:
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

    async def count_for(self, member_id: int, week_start: date) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(Submission)
                .where(
                    Submission.member_id == member_id,
                    Submission.week_start == week_start,
                    Submission.status == "active",
                )
            )
            or 0
        )

    async def by_shortcode(self, week_start: date, shortcode: str) -> Submission | None:
        return await self.session.scalar(
            select(Submission).where(
                Submission.week_start == week_start, Submission.shortcode == shortcode
            )
        )


class VerificationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, member_id: int, submission_id: int, status: str) -> Verification:
        """Write or overwrite the one row for (member, submission)."""
        row = await self.session.scalar(
            select(Verification).where(
                Verification.member_id == member_id, Verification.submission_id == submission_id
            )
        )
        if row is None:
            row = Verification(member_id=member_id, submission_id=submission_id)
            self.session.add(row)
        row.status = status
        row.checked_at = utcnow()
        await self.session.flush()
        return row

    async def of_member(self, member_id: int) -> list[Verification]:
        rows = await self.session.scalars(
            select(Verification).where(Verification.member_id == member_id)
        )
        return list(rows)
