"""How many times an account failed at something lately, from the audit log.

Guessing is throttled per chat account: admin claim codes, invite codes, Instagram
passwords. The failures are audit entries (so admins can see them, apart from their
own actions in `/audit`), counted here under the person's lock (one event at a time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.names import name_key
from storage.models import AuditEntry

# What a person tried and was refused: listed apart from admins' actions in /audit.
REFUSALS = ("refused", "claim_failed", "claim_throttled", "invite_failed",
            "invite_throttled", "login_failed", "login_throttled")


async def recent_failures(session: AsyncSession, action: str, now: datetime, *,
                          account_id: int | None = None, target: str | None = None,
                          within: timedelta = timedelta(hours=1)) -> int:
    """Audit entries of `action` since `within` ago, by this account and/or on this target."""
    query = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.created_at >= now - within)
    if account_id is not None:
        query = query.where(AuditEntry.actor_id == account_id)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    return int(await session.scalar(query) or 0)


class LoginThrottle:
    """Wrong Instagram passwords, per chat account and per Instagram username, a day:
    past the limit no login is tried, on every login flow (helpers, producers, the
    unfollow check), so the bot cannot be used to guess someone's password."""

    per_day = 5

    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    async def throttled(self, account_id: int, username: str) -> bool:
        now, day = self.clock(), timedelta(days=1)
        return (await recent_failures(self.session, "login_failed", now,
                                      account_id=account_id, within=day) >= self.per_day
                or await recent_failures(self.session, "login_failed", now,
                                         target=_login_key(username), within=day)
                >= self.per_day)

    async def failed(self, account_id: int, username: str) -> None:
        self.session.add(AuditEntry(actor_id=account_id, action="login_failed",
                                    target=_login_key(username), created_at=self.clock()))
        await self.session.flush()


def _login_key(username: str) -> str:
    """The Instagram username of a failed login, as a digest: the unfollow check keeps
    nothing of a person's login, not even which account they tried."""
    return "ig:" + hashlib.sha256(name_key(username).encode()).hexdigest()[:24]
