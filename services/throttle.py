"""How many times an account failed at something lately, from the audit log.

Guessing is throttled per chat account: admin claim codes, invite codes, Instagram
passwords. The failures are audit entries (so admins can see them, apart from their
own actions in `/audit`), counted here under the person's lock (one event at a time).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
