"""Admin bootstrap: a one-time claim code from the CLI, claimed from a chat account."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.members.codes import code_hash, new_code
from services.operations.audit import AuditRepo
from services.operations.throttle import recent_failures
from storage.models import Admin, ChatAccount, utcnow

log = logging.getLogger(__name__)
CLAIM_VALID_HOURS = 24
# Wrong codes allowed per chat account per hour, so a code cannot be guessed.
CLAIM_TRIES_PER_HOUR = 5


class AdminRepo:
    """Admins: unclaimed ones by their claim code's hash, claimed ones by chat account."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_unclaimed(self, name: str, code_hash: str, expires_at: datetime) -> Admin:
        admin = Admin(name=name, claim_code_hash=code_hash, claim_expires_at=expires_at)
        self.session.add(admin)
        await self.session.flush()
        return admin

    async def by_code_hash(self, code_hash: str) -> Admin | None:
        return await self.session.scalar(select(Admin).where(Admin.claim_code_hash == code_hash))

    async def is_admin(self, chat_account_id: int) -> bool:
        found = await self.session.scalar(
            select(Admin.id).where(Admin.chat_account_id == chat_account_id)
        )
        return found is not None

    async def claimed_accounts(self) -> list[ChatAccount]:
        rows = await self.session.scalars(
            select(ChatAccount)
            .join(Admin, Admin.chat_account_id == ChatAccount.id)
            .order_by(Admin.id)
        )
        return list(rows)


class ClaimResult(Enum):
    CLAIMED = "claimed"
    ALREADY_ADMIN = "already_admin"
    INVALID = "invalid"
    EXPIRED = "expired"
    THROTTLED = "throttled"


class AdminService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.admins = AdminRepo(session)
        self.audit = AuditRepo(session)

    async def create_claim(self, name: str) -> str:
        """A new, unclaimed admin; returns the one-time code (only its hash is stored)."""
        code = new_code()
        expires = utcnow() + timedelta(hours=CLAIM_VALID_HOURS)
        await self.admins.add_unclaimed(name, code_hash(code), expires)
        await self.audit.add(None, "admin_created", target=name, detail="from the CLI")
        return code

    async def _recent_failures(self, account_id: int) -> int:
        return await recent_failures(self.session, "claim_failed", utcnow(),
                                     account_id=account_id)

    async def claim(self, account_id: int, code: str) -> ClaimResult:
        if await self.admins.is_admin(account_id):
            return ClaimResult.ALREADY_ADMIN
        if await self._recent_failures(account_id) >= CLAIM_TRIES_PER_HOUR:
            log.warning("admin claims from chat account %s throttled", account_id)
            await self.audit.add(account_id, "claim_throttled")
            return ClaimResult.THROTTLED
        admin = await self.admins.by_code_hash(code_hash(code))
        if admin is None or admin.claimed_at is not None:
            log.warning("wrong admin claim code from chat account %s", account_id)
            await self.audit.add(account_id, "claim_failed", detail="unknown or used code")
            return ClaimResult.INVALID
        if admin.claim_expires_at is not None and admin.claim_expires_at < utcnow():
            await self.audit.add(account_id, "claim_failed", target=admin.name, detail="expired")
            return ClaimResult.EXPIRED
        admin.chat_account_id = account_id
        admin.claimed_at = utcnow()
        admin.claim_code_hash = None  # single use
        await self.audit.add(account_id, "admin_claimed", target=admin.name)
        return ClaimResult.CLAIMED

    async def is_admin(self, account_id: int) -> bool:
        return await self.admins.is_admin(account_id)
