"""The weekly jobs on APScheduler cron triggers, in the community's time zone.

Every instance schedules them; only the leader (jobs/leader.py) runs them. An instance
that becomes leader (at start, or when the old leader died) catches up on what a
period still owes: the week's final verification and results, the week-opening post
and the Sunday warning while they still make sense. Reminders are not caught up: an
8 o'clock reminder at noon helps nobody.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs.leader import Leader
from jobs.weekly_loop import WeeklyJobs
from services.week.calendar import WEEKDAYS, parse_deadline

log = logging.getLogger(__name__)
CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Schedule:
    """When each job runs: "DAY HH:MM" for weekly ones, "HH:MM" for daily ones."""

    week_open: str = "MON 09:00"
    reminders: tuple[str, ...] = ("08:00", "10:00", "22:00")
    nudge: str = "20:00"
    submission_warning: str = "SUN 09:00"
    refresh: tuple[str, ...] = ("21:00",)
    comment_deadline: str = "SUN 23:59"
    verification_delay_minutes: int = 5

    @property
    def final(self) -> str:
        """The comment deadline plus the delay, as "DAY HH:MM"."""
        weekday, clock = parse_deadline(self.comment_deadline)
        moment = datetime(2024, 1, 1 + weekday, clock.hour, clock.minute)  # 2024-01-01: Mon
        moment += timedelta(minutes=self.verification_delay_minutes)
        return f"{WEEKDAYS[moment.weekday()]} {moment:%H:%M}"


def weekly(when: str, zone: object) -> CronTrigger:
    weekday, clock = parse_deadline(when)
    return CronTrigger(day_of_week=CRON_DAYS[weekday], hour=clock.hour, minute=clock.minute,
                       timezone=zone)


def daily(when: str, zone: object) -> CronTrigger:
    hour, minute = (int(part) for part in when.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=zone)


def jobs_of(schedule: Schedule, weekly_jobs: WeeklyJobs, zone: object
            ) -> list[tuple[str, CronTrigger, Callable[[], Awaitable[None]]]]:
    """(job id, trigger, what to run) for every scheduled job."""
    entries: list[tuple[str, CronTrigger, Callable[[], Awaitable[None]]]] = [
        ("week_open", weekly(schedule.week_open, zone), weekly_jobs.week_opens),
        ("submission_warning", weekly(schedule.submission_warning, zone),
         weekly_jobs.submission_warning),
        ("final", weekly(schedule.final, zone), weekly_jobs.final),
        ("nudge", daily(schedule.nudge, zone), weekly_jobs.nudge),
    ]
    for slot in schedule.reminders:
        entries.append((f"reminder {slot}", daily(slot, zone),
                        lambda s=slot: weekly_jobs.remind(s)))  # type: ignore[misc]
    for slot in schedule.refresh:
        entries.append((f"refresh {slot}", daily(slot, zone), weekly_jobs.refresh))
    # A final check an error or a crash left unfinished goes on, hourly, until it is out
    # of attempts (then the admins are told to /verify the week).
    entries.append(("final retry", CronTrigger(minute=30, timezone=zone),
                    weekly_jobs.retry_final))
    # Suspensions and pauses end on the hour they are due (they end at Monday 00:00).
    entries.append(("lift", CronTrigger(minute=0, timezone=zone), weekly_jobs.lift))
    return entries


class JobRunner:
    """Runs the scheduled jobs on the leader only, and catches up when it starts leading."""

    def __init__(self, weekly_jobs: WeeklyJobs, leader: Leader, schedule: Schedule,
                 extra: list[tuple[str, CronTrigger, Callable[[], Awaitable[None]]]]
                 | None = None) -> None:
        self.jobs = weekly_jobs
        self.leader = leader
        self.schedule = schedule
        # Other jobs on their own triggers (the nightly comments).
        self.extra = extra or []
        self._running: set[asyncio.Task[object]] = set()

    async def guarded(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run a job if this instance leads; a failure is logged, never raised."""
        await self._tracked(name, job, needs_lead=True)

    async def watch(self) -> None:
        """Try to lead; on becoming leader, catch up on what is owed."""
        was_leading = self.leader.leading
        if await self.leader.ensure() and not was_leading:
            await self.catch_up()

    async def _tracked(self, name: str, job: Callable[[], Awaitable[None]], *,
                       needs_lead: bool) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)  # type: ignore[arg-type]
        try:
            if not needs_lead or await self.leader.ensure():
                await job()
        except Exception as exc:
            log.exception("scheduled job %s failed", name)
            self.jobs.services.faults.report(f"scheduled job {name}", exc)
        finally:
            if task is not None:
                self._running.discard(task)  # type: ignore[arg-type]

    async def stop(self, grace: float = 10.0) -> None:
        """Let running jobs finish (their steps are marked, so a cut one resumes later)."""
        if not self._running:
            return
        _, pending = await asyncio.wait(set(self._running), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace)

    async def _watch(self) -> None:
        await self._tracked("leader", self.watch, needs_lead=False)

    async def catch_up(self) -> None:
        jobs, zone = self.jobs, self.jobs.rules.timezone
        now = jobs.clock()
        week = jobs.current_week()
        for name, job in (("lift", jobs.lift), ("final", jobs.final)):
            await self.guarded(name, job)
        if week.at(self.schedule.week_open) <= now < week.at(jobs.rules.submission_deadline):
            await self.guarded("week_open", jobs.week_opens)
        if week.at(self.schedule.submission_warning) <= now \
                < week.at(jobs.rules.submission_deadline):
            await self.guarded("submission_warning", jobs.submission_warning)
        log.debug("caught up at %s", now.astimezone(zone))

    def install(self, scheduler: AsyncIOScheduler, watch_seconds: int = 30) -> None:
        zone = self.jobs.rules.timezone
        for name, trigger, job in [*jobs_of(self.schedule, self.jobs, zone), *self.extra]:
            scheduler.add_job(self.guarded, trigger, args=[name, job], id=name, name=name,
                              max_instances=1, coalesce=True, misfire_grace_time=3600)
        scheduler.add_job(self._watch, "interval", seconds=watch_seconds, id="leader",
                          next_run_time=datetime.now(zone), max_instances=1, coalesce=True)
