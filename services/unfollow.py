"""The unfollow check's answer: who you follow that does not follow back, who follows you
that you do not follow back, and (when you kept your last result) who stopped following
you since. A personal whitelist hides accounts you follow on purpose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FollowSnapshot, FollowWhitelist


@dataclass(frozen=True)
class UnfollowResult:
    followers: int
    following: int
    not_following_back: list[str]
    fans: list[str]  # follow you; you do not follow them
    hidden: int  # whitelisted accounts left out of not_following_back
    stopped: list[str] | None  # since the kept result (None: nothing kept)
    since: datetime | None


class UnfollowService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def whitelist(self, account_id: int) -> list[str]:
        rows = await self.session.scalars(
            select(FollowWhitelist.username).where(FollowWhitelist.chat_account_id == account_id)
            .order_by(FollowWhitelist.username))
        return list(rows)

    async def add_to_whitelist(self, account_id: int, usernames: list[str]) -> list[str]:
        known = set(await self.whitelist(account_id))
        added = [u for u in dict.fromkeys(usernames) if u not in known]
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
