"""Personal invites: a single-use code that links a chat account to a member."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from services.codes import code_hash, new_code
from services.throttle import recent_failures
from storage.models import AuditEntry, ChatAccount, utcnow
from storage.repositories.members import ChatAccountRepo, InviteRepo, MemberRepo

INVITE_VALID_DAYS = 14


class InviteResult(Enum):
    LINKED = "linked"
    INVALID = "invalid"
    USED = "used"
    EXPIRED = "expired"
    PLATFORM_TAKEN = "platform_taken"  # the member already linked another account here
    THROTTLED = "throttled"  # too many wrong codes from this account in the last hour


INVITE_TRIES_PER_HOUR = 5


class InviteService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.invites = InviteRepo(session)
        self.members = MemberRepo(session)
        self.accounts = ChatAccountRepo(session)

    async def create(self, member_id: int) -> str:
        code = new_code(8)
        expires = utcnow() + timedelta(days=INVITE_VALID_DAYS)
        await self.invites.add(member_id, code_hash(code), expires)
        return code

    async def accept(self, account_id: int, code: str) -> tuple[InviteResult, str | None]:
        """Link the account; returns the result and the member's Instagram username.
        Wrong codes are throttled like admin claims (an invite code is short)."""
        now = utcnow()
        if await recent_failures(self.session, "invite_failed", now,
                                 account_id=account_id) >= INVITE_TRIES_PER_HOUR:
            self.session.add(AuditEntry(actor_id=account_id, action="invite_throttled"))
            return InviteResult.THROTTLED, None
        invite = await self.invites.by_code_hash(code_hash(code))
        if invite is None:
            self.session.add(AuditEntry(actor_id=account_id, action="invite_failed"))
            return InviteResult.INVALID, None
        member = await self.members.get(invite.member_id)
        username = member.instagram_username if member else None
        if invite.used_at is not None:
            return InviteResult.USED, username
        if invite.expires_at < utcnow():
            return InviteResult.EXPIRED, username
        account = await self.session.get(ChatAccount, account_id)
        assert account is not None
        taken = [a for a in await self.accounts.of_member(invite.member_id) if a.id != account_id]
        if any(a.platform == account.platform for a in taken):
            return InviteResult.PLATFORM_TAKEN, username
        account.member_id = invite.member_id
        invite.used_at, invite.used_by_id = utcnow(), account_id
        return InviteResult.LINKED, username
