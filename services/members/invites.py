"""Personal invites: a single-use code that links a chat account to a member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.members.codes import code_hash, new_code
from services.members.queries import ChatAccountRepo, MemberRepo
from services.operations.throttle import recent_failures
from storage.models import AuditEntry, ChatAccount, Invite, utcnow

INVITE_VALID_DAYS = 14


class InviteRepo:
    """Invite codes, stored as hashes only."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, member_id: int, code_hash: str, expires_at: datetime,
                  moves_account: bool = False) -> Invite:
        invite = Invite(member_id=member_id, code_hash=code_hash, expires_at=expires_at,
                        moves_account=moves_account)
        self.session.add(invite)
        await self.session.flush()
        return invite

    async def by_code_hash(self, code_hash: str) -> Invite | None:
        return await self.session.scalar(select(Invite).where(Invite.code_hash == code_hash))


class InviteResult(Enum):
    LINKED = "linked"
    INVALID = "invalid"
    USED = "used"
    EXPIRED = "expired"
    PLATFORM_TAKEN = "platform_taken"  # the member already linked another account here
    THROTTLED = "throttled"  # too many wrong codes from this account in the last hour
    ALREADY_LINKED = "already_linked"  # the code's own member sent it (again)


INVITE_TRIES_PER_HOUR = 5


@dataclass(frozen=True)
class Accepted:
    result: InviteResult
    username: str | None = None  # the member's Instagram username
    # (platform, user id, language) of accounts a re-link moved the member away from.
    moved_from: tuple[tuple[str, str, str], ...] = ()


class InviteService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.invites = InviteRepo(session)
        self.members = MemberRepo(session)
        self.accounts = ChatAccountRepo(session)

    async def create(self, member_id: int, *, moves_account: bool = False) -> str:
        """A single-use code; `moves_account`: a re-link, which moves the member from
        their old account on the platform where it is used (a new phone)."""
        code = new_code(8)
        expires = utcnow() + timedelta(days=INVITE_VALID_DAYS)
        await self.invites.add(member_id, code_hash(code), expires, moves_account)
        return code

    async def accept(self, account_id: int, code: str) -> Accepted:
        """Link the account; returns the result and the member's Instagram username.
        Wrong codes are throttled like admin claims (an invite code is short)."""
        now = utcnow()
        if await recent_failures(self.session, "invite_failed", now,
                                 account_id=account_id) >= INVITE_TRIES_PER_HOUR:
            self.session.add(AuditEntry(actor_id=account_id, action="invite_throttled"))
            return Accepted(InviteResult.THROTTLED)
        invite = await self.invites.by_code_hash(code_hash(code))
        if invite is None:
            self.session.add(AuditEntry(actor_id=account_id, action="invite_failed"))
            return Accepted(InviteResult.INVALID)
        member = await self.members.get(invite.member_id)
        username = member.instagram_username if member else None
        account = await self.session.get(ChatAccount, account_id)
        if account is not None and account.member_id == invite.member_id:
            return Accepted(InviteResult.ALREADY_LINKED, username)  # nothing to do
        if invite.used_at is not None:
            return Accepted(InviteResult.USED, username)
        if invite.expires_at < utcnow():
            return Accepted(InviteResult.EXPIRED, username)
        if account is None:  # the chat account went away meanwhile (a /forgetme)
            return Accepted(InviteResult.INVALID, username)
        taken = [a for a in await self.accounts.of_member(invite.member_id)
                 if a.id != account_id and a.platform == account.platform]
        if taken and not invite.moves_account:
            return Accepted(InviteResult.PLATFORM_TAKEN, username)
        for old in taken:  # a re-link: the old phone's account lets go, history stays
            old.member_id = None
        await self.session.flush()
        account.member_id = invite.member_id
        invite.used_at, invite.used_by_id = utcnow(), account_id
        return Accepted(InviteResult.LINKED, username,
                        tuple((a.platform, a.platform_user_id, a.language) for a in taken))
