"""Checks on Instagram as the product runs them: the week, the open debts, one member.

One per process (held by Services): it owns the commenter cache and a lock so that two
checks of the same week never overlap. The per-member "check now" cooldown is kept in
the database (`sns_raise_user.check_now_at`), so every instance shares it and a restart
keeps it.
The helper pool is loaded from the helper table before each check and its state is
written back after, so `/helpers` shows cooldowns and a restart keeps them.

Each kind of check may use its own share of every helper's hour (services/instagram/
pool.py): the final check all of it, the daily refresh and re-checks 70%, a member's
"check now" 30%, and that within an allowance of requests of its own; what it could not
read then is left to the next daily refresh, and the member is told when that is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.instagram.gateway import CURRENT_METER, CallMeter
from services.instagram.helper_accounts import HelperAccountService
from services.instagram.pool import ASKED_SHARE, CALL_SHARE, FINAL_SHARE, ROUTINE_SHARE
from services.instagram.runtime import Instagram
from services.operations.chat_first import ChatFirst
from services.rules import CommunityRules
from services.verification.verifier import (
    COMMENTER_CACHE,
    CommenterCache,
    Progress,
    RunReport,
    Verifier,
)
from services.web.board_cache import WeekVersions
from services.week.calendar import Week
from storage.models import Member, utcnow

# Told after each check that found gone posts or stopped helpers (the jobs wire it).
Aftermath = Callable[[RunReport], Awaitable[None]]
# Requests one member's "check now" may send (CHECK_NOW_ALLOWANCE): a dozen reads a few
# posts; a member with many open posts gets the rest at the next daily refresh instead
# of spending the helpers' hour that everyone's checks share.
CHECK_NOW_ALLOWANCE = 12
# How often one member may press "check now", and when the daily refresh runs (the
# defaults of CHECK_NOW_MINUTES and REFRESH_TIMES).
CHECK_NOW_EVERY = timedelta(minutes=10)
REFRESH_TIMES = ("21:00",)


@dataclass(frozen=True)
class MemberCheck:
    """A member's "check now": the run, how many of their open posts it read (or took
    from the cache), and when the bot looks next (the next daily refresh)."""

    report: RunReport
    read: int
    next_look: datetime | None

    @property
    def partial(self) -> bool:
        """Stopped before every open post was read (allowance, share or helpers gone)."""
        return self.report.paused and self.read < self.report.posts


class Checks:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rules: CommunityRules,
                 instagram: Instagram, *,
                 cache_seconds: float = COMMENTER_CACHE.total_seconds(),
                 check_now_every: timedelta = CHECK_NOW_EVERY,
                 write_lock: asyncio.Lock | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 versions: WeekVersions | None = None,
                 check_now_allowance: int = CHECK_NOW_ALLOWANCE,
                 refresh_times: tuple[str, ...] = REFRESH_TIMES,
                 aftermath: Aftermath | None = None,
                 chat_first: ChatFirst | None = None) -> None:
        self.sessions = sessions
        self.rules = rules
        self.instagram = instagram
        self.cache = CommenterCache(cache_seconds)
        self.verifier = Verifier(sessions, instagram, self.cache, write_lock=write_lock,
                                 clock=clock, chat_first=chat_first)
        self.check_now_every = check_now_every
        self.check_now_allowance = check_now_allowance
        # The daily refresh's "HH:MM" slots (jobs/schedule.py Schedule.refresh, set by
        # the wiring): a "check now" cut short says which one will read the rest.
        self.refresh_times = refresh_times
        self.lock = asyncio.Lock()
        # Told what a check found that people must hear (None: nobody is told).
        self.aftermath = aftermath
        # Bumped after each check of a week (it wrote that week's verdicts): the web
        # board's cache (services.web.board_cache) drops its entries of the week.
        self.versions = versions if versions is not None else WeekVersions()

    async def _with_pool(self, week: Week, run: Callable[[], Awaitable[RunReport]], *,
                         share: float = ROUTINE_SHARE, allowance: int | None = None
                         ) -> RunReport:
        """The run with the helpers loaded and saved back; its reads may use `share` of
        each helper's hour and, with `allowance`, send at most that many requests."""
        async with self.verifier.transaction() as session:
            await HelperAccountService(session, self.instagram).load_pool()
        shared = CALL_SHARE.set(share)
        metered = CURRENT_METER.set(CallMeter(parent=CURRENT_METER.get(), limit=allowance))
        try:
            report = await run()
        finally:
            CURRENT_METER.reset(metered)
            CALL_SHARE.reset(shared)
            self.versions.bump(week.start)  # even a failed run may have written some
            async with self.verifier.transaction() as session:
                await HelperAccountService(session, self.instagram).save_pool()
        if self.aftermath is not None and report.news:
            await self.aftermath(report)
        return report

    async def week(self, week: Week, *, only_open: bool = False,
                   progress: Progress | None = None, final: bool = False) -> RunReport:
        """Check the week's posts (or only those someone still owes), one check at a time.
        `final`: the check that decides the week (or an admin's /verify) may use all of
        each helper's hour; the daily refreshes leave it a share."""
        async with self.lock:
            return await self._with_pool(week, lambda: self.verifier.run(
                week, self.rules, only_open=only_open, progress=progress,
                patience=self.instagram.patience),
                share=FINAL_SHARE if final else ROUTINE_SHARE)

    async def next_check_for(self, member_id: int, now: datetime, *,
                             session: AsyncSession | None = None) -> datetime | None:
        """When this member may ask for a check again (None: now)."""
        if session is None:
            async with self.sessions() as own:
                return await self.next_check_for(member_id, now, session=own)
        last = await session.scalar(select(Member.check_now_at).where(Member.id == member_id))
        if last is None or now - last >= self.check_now_every:
            return None
        return last + self.check_now_every

    async def claim(self, member_id: int, now: datetime, *,
                    session: AsyncSession | None = None) -> datetime | None:
        """Take this member's "check now" turn: None when taken (the cooldown starts
        now), else when the next turn comes. One conditional UPDATE takes it, so two
        quick presses (in chat or on the web page, on any instance) make one check.
        In `session` (the caller's transaction) or a transaction of its own."""
        async with self._writing(session) as tx:
            taken = await tx.execute(
                update(Member)
                .where(Member.id == member_id,
                       or_(Member.check_now_at.is_(None),
                           Member.check_now_at <= now - self.check_now_every))
                .values(check_now_at=now)
                .execution_options(synchronize_session=False))
            if taken.rowcount:
                return None
            last = await tx.scalar(select(Member.check_now_at).where(Member.id == member_id))
            return (last or now) + self.check_now_every

    @asynccontextmanager
    async def _writing(self, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        if session is not None:
            yield session
        else:
            async with self.verifier.transaction() as own:
                yield own

    async def member_week(self, member_id: int, week: Week) -> RunReport:
        """An appeal: this member's open posts of a finished week, read again (never from
        the cache: the member says the comments are there now)."""
        return await self._with_pool(week, lambda: self.verifier.run(
            week, self.rules, member_id=member_id))

    async def member(self, member_id: int, now: datetime) -> MemberCheck:
        """"Check now" from /status: only this member's open posts, from the cache when
        it is fresh, within the member's allowance of requests and the asked-for share
        of the helpers' hour. Callers `claim` the member's turn first."""
        week = Week.containing(now, self.rules.timezone)
        read = 0

        async def counted(done: int, _total: int) -> None:
            nonlocal read
            read = done

        report = await self._with_pool(week, lambda: self.verifier.run(
            week, self.rules, member_id=member_id, use_cache=True, progress=counted),
            share=ASKED_SHARE, allowance=self.check_now_allowance)
        return MemberCheck(report, read, self.next_refresh(now))

    def next_refresh(self, now: datetime) -> datetime | None:
        """The next daily refresh after `now` (None: no refresh is scheduled)."""
        zone = self.rules.timezone
        local = now.astimezone(zone)
        slots = []
        for slot in self.refresh_times:  # "HH:MM", as the scheduler reads them
            hour, minute = (int(part) for part in slot.split(":"))
            for days in (0, 1):
                day = local.date() + timedelta(days=days)
                slots.append(datetime.combine(day, time(hour, minute), tzinfo=zone))
        later = [moment for moment in slots if moment > local]
        return min(later) if later else None
