"""The unfollow check's answer: who you follow that does not follow back, who follows you
that you do not follow back, and (when you kept your last result) who stopped following
you since. A personal whitelist hides accounts you follow on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.gateway import Gateway, Session
from storage.models import AuditEntry, FollowSnapshot, FollowWhitelist


@dataclass(frozen=True)
class UnfollowResult:
    followers: int
    following: int
    not_following_back: list[str]
    fans: list[str]  # follow you; you do not follow them
    hidden: int  # whitelisted accounts left out of not_following_back
    stopped: list[str] | None  # since the kept result (None: nothing kept)
    since: datetime | None


WHITELIST_MAX = 500  # accounts one person keeps off the "does not follow back" list


class WhitelistFull(Exception):
    """The whitelist would hold more than WHITELIST_MAX names."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} names")
        self.limit = limit


class UnfollowService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def whitelist(self, account_id: int) -> list[str]:
        rows = await self.session.scalars(
            select(FollowWhitelist.username).where(FollowWhitelist.chat_account_id == account_id)
            .order_by(FollowWhitelist.username))
        return list(rows)

    async def add_to_whitelist(self, account_id: int, usernames: list[str]) -> list[str]:
        """The names added (those already there are not); raises WhitelistFull past the
        cap, adding nothing."""
        known = set(await self.whitelist(account_id))
        added = [u for u in dict.fromkeys(usernames) if u not in known]
        if len(known) + len(added) > WHITELIST_MAX:
            raise WhitelistFull(WHITELIST_MAX)
        self.session.add_all(FollowWhitelist(chat_account_id=account_id, username=u)
                             for u in added)
        await self.session.flush()
        return added

    async def remove_from_whitelist(self, account_id: int, usernames: list[str]) -> int:
        result = await self.session.execute(delete(FollowWhitelist).where(
            FollowWhitelist.chat_account_id == account_id,
            FollowWhitelist.username.in_(usernames)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def analyse(self, account_id: int, followers: set[str], following: set[str]
                      ) -> UnfollowResult:
        whitelist = set(await self.whitelist(account_id))
        not_back = following - followers
        kept = await self.session.scalar(
            select(FollowSnapshot).where(FollowSnapshot.chat_account_id == account_id))
        return UnfollowResult(
            len(followers), len(following), sorted(not_back - whitelist),
            sorted(followers - following), len(not_back & whitelist),
            sorted(set(kept.followers) - followers) if kept else None,
            kept.taken_at if kept else None)

    async def checks_since(self, account_id: int, since: datetime) -> int:
        """Unfollow checks with login this person started since `since` (the daily cap)."""
        return int(await self.session.scalar(
            select(func.count()).select_from(AuditEntry).where(
                AuditEntry.actor_id == account_id, AuditEntry.action == "unfollow_check",
                AuditEntry.created_at >= since)) or 0)

    async def record_check(self, account_id: int) -> None:
        """The check is recorded (never the username or anything of the login)."""
        self.session.add(AuditEntry(actor_id=account_id, action="unfollow_check"))
        await self.session.flush()

    async def keep(self, account_id: int, followers: list[str], when: datetime) -> None:
        """Keep this result's followers (replacing the last kept), for the next check."""
        await self.session.execute(delete(FollowSnapshot).where(
            FollowSnapshot.chat_account_id == account_id))
        self.session.add(FollowSnapshot(chat_account_id=account_id, taken_at=when,
                                        followers=sorted(followers)))
        await self.session.flush()

    async def forget(self, account_id: int) -> int:
        """Everything kept about this person's checks; how many things were deleted."""
        gone = 0
        for table in (FollowSnapshot, FollowWhitelist):
            result = await self.session.execute(
                delete(table).where(table.chat_account_id == account_id))
            gone += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return gone


class RunningChecks:
    """Unfollow checks with login that are running in this process, one per person, so
    `/cancel` can stop one and a second is refused while the first runs."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[str, str], asyncio.Task[object]] = {}

    def running(self, key: tuple[str, str]) -> bool:
        task = self._tasks.get(key)
        return task is not None and not task.done()

    def start(self, key: tuple[str, str]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks[key] = task  # type: ignore[assignment]

    def finish(self, key: tuple[str, str]) -> None:
        self._tasks.pop(key, None)

    def cancel(self, key: tuple[str, str]) -> bool:
        task = self._tasks.pop(key, None)
        if task is None or task.done():
            return False
        task.cancel()
        return True


@dataclass(frozen=True)
class Crawled:
    """What a check with login read of the person's own account: both lists (complete
    when each reached the count Instagram reports), or that `/cancel` stopped it."""

    followers: frozenset[str] = frozenset()
    following: frozenset[str] = frozenset()
    complete: bool = True
    cancelled: bool = False


# How far a crawl has read: ("followers" or "following", read so far, Instagram's count).
# Always called on the event loop, though the gateway may report from a worker thread.
CrawlProgress = Callable[[str, int, int], None]


async def crawl_follows(gateway: Gateway, running: RunningChecks, key: tuple[str, str],
                        session: Session, username: str,
                        progress: CrawlProgress | None = None) -> Crawled:
    """Read the person's followers, then whom they follow, with their own session; one
    crawl per person (`key`) at a time, which `/cancel` stops (RunningChecks). The session
    is discarded however the crawl ends: nothing of the login outlives it. Instagram's
    errors are raised as they come."""
    loop = asyncio.get_running_loop()

    def told(which: str) -> Callable[[int, int], None]:
        def update(done: int, total: int) -> None:  # may run in a worker thread
            if progress is not None:
                loop.call_soon_threadsafe(progress, which, done, total)
        return update

    running.start(key)
    try:
        followers = await gateway.followers(session, username, told("followers"))
        following = await gateway.followees(session, username, told("following"))
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # stopped on purpose: the answer still goes out
        return Crawled(cancelled=True)
    finally:
        running.finish(key)
        gateway.discard(session)
    return Crawled(followers.usernames, following.usernames,
                   followers.complete and following.complete)
