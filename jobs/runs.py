"""Job runs: each (job, period) runs to the end once, even across crashes and restarts.

`claim` starts a run, or resumes one that a crash (or an error) left unfinished (its
finished steps are kept in the summary, so a resumed run skips them), or answers None
when the period is already done or has used its attempts (`max_attempts`: two for most
jobs; the week's final check gets more, and an admin's `/verify` may force one more):
re-running a finished period changes nothing and posts nothing.

How a step that talks to people is marked is the job's choice: the short jobs mark the
send before it goes out (a crash loses it rather than repeating it); the final check
records each message after it is sent (`note`), so a crash may repeat one, never drop one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.container import Services
from storage.models import JobRun, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2  # the first start and one re-run after a crash


@dataclass
class Run:
    job: str
    period: str
    attempts: int
    summary: dict[str, Any] = field(default_factory=dict)

    def done(self, step: str) -> bool:
        return step in self.summary.get("steps", [])


@dataclass(frozen=True)
class Stored:
    """A run's row as it is now (for deciding what to tell when it cannot go on)."""

    status: str
    attempts: int
    error: str | None
    summary: dict[str, Any]


class JobRuns:
    def __init__(self, services: Services, clock: Callable[[], datetime] = utcnow) -> None:
        self.services = services
        self.clock = clock  # the jobs' clock: appeal windows count from finished_at
        # Runs going on in this process: a "running" row of one of these is not a crash.
        self.active: set[tuple[str, str]] = set()

    async def claim(self, job: str, period: str, *, max_attempts: int = MAX_ATTEMPTS,
                    force: bool = False) -> Run | None:
        """`force`: resume a failed run whatever its attempts (an admin asked); a run
        marked "running" is left alone, as it may be going on in another instance."""
        if (job, period) in self.active:
            return None
        run = await self._claim(job, period, max_attempts, force)
        if run is not None:
            self.active.add((job, period))
        return run

    async def _claim(self, job: str, period: str, max_attempts: int, force: bool
                     ) -> Run | None:
        async with self.services.transaction() as tx:
            known = await _row(tx.session, job, period) is not None
        if not known:
            try:
                async with self.services.transaction() as tx:
                    tx.session.add(JobRun(job=job, period=period, status="running", summary={},
                                          started_at=self.clock()))
                return Run(job, period, 1)
            except IntegrityError:  # another instance just claimed it
                return None
        async with self.services.transaction() as tx:
            run = await _row(tx.session, job, period, lock=True)
            if run is None or run.status == "done":
                return None
            if force and run.status == "running":
                return None  # maybe going on in the leader: the leader's retries resume it
            if run.attempts >= max_attempts and not force:
                if run.status == "running":
                    run.status, run.finished_at = "failed", self.clock()
                    run.error = (run.error or "") + " interrupted again; not retried"
                return None
            run.attempts += 1
            run.status = "running"
            log.info("resuming %s %s (attempt %d)", job, period, run.attempts)
            return Run(job, period, run.attempts, dict(run.summary or {}))

    async def mark(self, run: Run, step: str, **summary: Any) -> None:
        """Record a finished (or about to be sent) step, committed at once."""
        run.summary.setdefault("steps", [])
        if step not in run.summary["steps"]:
            run.summary["steps"] = [*run.summary["steps"], step]
        run.summary.update(summary)
        await self._save(run, "running")

    async def note(self, run: Run, **summary: Any) -> None:
        """Remember progress inside a step (who has been sent to), committed at once."""
        run.summary.update(summary)
        await self._save(run, "running")

    async def stored(self, job: str, period: str) -> Stored | None:
        async with self.services.transaction() as tx:
            row = await _row(tx.session, job, period)
            return Stored(row.status, row.attempts, row.error, dict(row.summary or {})) \
                if row else None

    async def remember(self, job: str, period: str, **summary: Any) -> None:
        """Add to the summary of a run that is not going on (e.g. "the admins were told")."""
        async with self.services.transaction() as tx:
            row = await _row(tx.session, job, period, lock=True)
            if row is not None:
                row.summary = {**(row.summary or {}), **summary}

    async def finish(self, run: Run, *, error: str | None = None, **summary: Any) -> None:
        run.summary.update(summary)
        await self._save(run, "failed" if error else "done", error=error, finished=True)
        self.active.discard((run.job, run.period))

    async def _save(self, run: Run, status: str, *, error: str | None = None,
                    finished: bool = False) -> None:
        """One UPDATE, without reading the row back: the final results' run notes its
        progress every few messages, and its summary (the ladder's news of every member)
        read and decoded each time cost a thousand-member week minutes of CPU."""
        values: dict[str, Any] = {"status": status, "summary": dict(run.summary)}
        if error is not None:
            values["error"] = error[:2000]
        if finished:
            values["finished_at"] = self.clock()
        async with self.services.transaction() as tx:
            await tx.session.execute(
                update(JobRun).where(JobRun.job == run.job, JobRun.period == run.period)
                .values(**values).execution_options(synchronize_session=False))

    async def status(self, job: str, period: str) -> str | None:
        async with self.services.transaction() as tx:
            row = await _row(tx.session, job, period)
            return row.status if row else None


async def _row(session: AsyncSession, job: str, period: str, lock: bool = False
               ) -> JobRun | None:
    query = select(JobRun).where(JobRun.job == job, JobRun.period == period)
    return await session.scalar(query.with_for_update() if lock else query)
