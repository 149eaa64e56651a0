"""Members and chat accounts as rows: the queries every service that finds a person asks,
and the one query every event asks ("who is this and where are they in a flow")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.instagram.names import name_key
from storage.models import Admin, ChatAccount, ConversationState, Member, utcnow


class MemberRepo:
    """Members by id or Instagram username (kept lower-case, so a name matches in any
    case); the member services, invites and submissions share these."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, instagram_username: str, display_name: str | None = None,
                  joined_at: datetime | None = None) -> Member:
        member = Member(
            instagram_username=name_key(instagram_username),
            display_name=display_name,
            joined_at=joined_at or utcnow(),
        )
        self.session.add(member)
        await self.session.flush()
        return member

    async def by_username(self, instagram_username: str) -> Member | None:
        return await self.session.scalar(
            select(Member).where(Member.instagram_username == name_key(instagram_username))
        )

    async def get(self, member_id: int) -> Member | None:
        return await self.session.get(Member, member_id)

    async def list(self, *, offset: int = 0, limit: int = 50) -> list[Member]:
        rows = await self.session.scalars(
            select(Member)
            .options(selectinload(Member.chat_accounts))
            .order_by(Member.instagram_username)
            .offset(offset)
            .limit(limit)
        )
        return list(rows)

    async def count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(Member)) or 0

    async def delete(self, member: Member) -> None:
        await self.session.delete(member)
        await self.session.flush()


# Built once, on the tables (Core: the ORM's result machinery cost more than the query):
# every event runs it.
_A, _M, _ADM, _C = (model.__table__.c for model in (ChatAccount, Member, Admin,
                                                    ConversationState))
WITH_ROLES = (
    select(_A.id, _A.language, _A.display_name, _A.member_id, _M.instagram_username,
           _ADM.id.label("admin_id"), _C.flow, _C.step, _C.data, _C.expires_at)
    .select_from(ChatAccount.__table__)
    .outerjoin(Member.__table__, _M.id == _A.member_id)
    .outerjoin(Admin.__table__, _ADM.chat_account_id == _A.id)
    .outerjoin(ConversationState.__table__,
               (_C.platform == _A.platform) & (_C.platform_user_id == _A.platform_user_id))
    .where(_A.platform == bindparam("platform"), _A.platform_user_id == bindparam("user"))
)


class ChatAccountRepo:
    """A person's chat account per platform, made on first contact (an insert that does
    nothing when another event made it first)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, platform: str, platform_user_id: str) -> ChatAccount | None:
        return await self.session.scalar(
            select(ChatAccount).where(
                ChatAccount.platform == platform, ChatAccount.platform_user_id == platform_user_id
            )
        )

    async def with_roles(self, platform: str, platform_user_id: str) -> Row[Any] | None:
        """The account's id, language, display name and member id, its member's Instagram
        username, admin id and conversation state: one query, as every event asks for them."""
        return (await self.session.execute(
            WITH_ROLES, {"platform": platform, "user": platform_user_id})).first()

    async def rename(self, account_id: int, display_name: str) -> None:
        await self.session.execute(
            update(ChatAccount)
            .where(ChatAccount.id == account_id)
            .values(display_name=display_name)
        )

    async def get_or_create(
        self, platform: str, platform_user_id: str, display_name: str | None, language: str
    ) -> ChatAccount:
        """The account for this user, created on first contact with their app's language
        (an insert that does nothing when another event created it first)."""
        account = await self.get(platform, platform_user_id)
        if account is None:
            dialect = postgresql if self.session.bind.dialect.name == "postgresql" else sqlite
            await self.session.execute(
                dialect.insert(ChatAccount).values(
                    platform=platform, platform_user_id=platform_user_id,
                    display_name=display_name, language=language,
                    created_at=utcnow(), reachable=True)
                .on_conflict_do_nothing(index_elements=["platform", "platform_user_id"]))
            # There now, whoever inserted it (a row gone meanwhile is a fault: it raises).
            account = (await self.session.scalars(select(ChatAccount).where(
                ChatAccount.platform == platform,
                ChatAccount.platform_user_id == platform_user_id))).one()
        elif display_name and account.display_name != display_name:
            account.display_name = display_name
        return account

    async def of_member(self, member_id: int) -> list[ChatAccount]:
        rows = await self.session.scalars(
            select(ChatAccount).where(ChatAccount.member_id == member_id)
        )
        return list(rows)
