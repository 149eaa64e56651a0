"""How many times an account failed at something lately, from the audit log.

Guessing is throttled per chat account: admin claim codes, invite codes, Instagram
passwords (those also per Instagram account, for its owner's attempts only). The
failures are audit entries (so admins can see them, apart from their own actions in
`/audit`), counted here under the person's lock (one event at a time).
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
    """Wrong Instagram passwords a day: past the limit no login is tried, on every login
    flow (helpers, producers, the unfollow check), so the bot is no password oracle.

    Nobody but an account's owner can spend that account's limit, or strangers could
    lock its owner out. An attempt is the owner's (`own`) when it comes from a chat
    account linked to the Instagram account: a member whose Instagram username it is,
    or an admin adding it as a helper. Owners' attempts are counted per chat account
    and per Instagram account (five a day each); anyone else's only per chat account,
    with a stricter limit (three a day, all their wrong passwords counted), so a
    stranger's guesses never refuse the owner.
    """

    per_day = 5
    stranger_per_day = 3

    def __init__(self, session: AsyncSession, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    def limit(self, *, own: bool) -> int:
        return self.per_day if own else self.stranger_per_day

    async def throttled(self, account_id: int, username: str, *, own: bool) -> bool:
        now, day = self.clock(), timedelta(days=1)
        if await recent_failures(self.session, "login_failed", now, account_id=account_id,
                                 within=day) >= self.limit(own=own):
            return True
        return own and await recent_failures(
            self.session, "login_failed", now, target=_login_key(username, own=True),
            within=day) >= self.per_day

    async def failed(self, account_id: int, username: str, *, own: bool) -> None:
        self.session.add(AuditEntry(actor_id=account_id, action="login_failed",
                                    target=_login_key(username, own=own),
                                    created_at=self.clock()))
        await self.session.flush()


def _login_key(username: str, *, own: bool) -> str:
    """The Instagram username of a failed login, as a digest: the unfollow check keeps
    nothing of a person's login, not even which account they tried. A stranger's
    failure has its own prefix, so it never counts for the account itself."""
    digest = hashlib.sha256(name_key(username).encode()).hexdigest()[:24]
    return ("ig:" if own else "ig-other:") + digest
