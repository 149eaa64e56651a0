"""Job runs as rows (job, period, status, summary): how a run is known to be done."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import JobRun, utcnow


class JobRunRepo:
    """A job's run per period: (job, period) is unique, so a period runs once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, job: str, period: str) -> JobRun | None:
        return await self.session.scalar(
            select(JobRun).where(JobRun.job == job, JobRun.period == period)
        )

    async def start(self, job: str, period: str) -> JobRun:
        run = JobRun(job=job, period=period, status="running", summary={}, started_at=utcnow())
        self.session.add(run)
        await self.session.flush()
        return run

    async def finish(self, run: JobRun, status: str, summary: dict[str, Any]) -> None:
        run.status, run.summary, run.finished_at = status, summary, utcnow()
        await self.session.flush()
