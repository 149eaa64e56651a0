"""Who is writing: the chat account, its language, its member and whether it is an admin."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.members.admin_claim import AdminRepo
from services.members.queries import ChatAccountRepo, MemberRepo
from storage.models import ChatAccount

LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class Identity:
    account_id: int
    platform: str
    platform_user_id: str
    language: str
    member_id: int | None
    member_username: str | None
    is_admin: bool

    @property
    def audience(self) -> str:
        """Which commands this person sees: "admin", "member" or "stranger"."""
        if self.is_admin:
            return "admin"
        return "member" if self.member_id else "stranger"


@dataclass(frozen=True)
class StoredFlow:
    """A conversation state row as read with the account."""

    flow: str
    step: str
    data: dict[str, Any]
    expires_at: datetime


def language_from_hint(hint: str | None) -> str:
    """The language for a first contact: English for an English app, Korean otherwise."""
    return "en" if hint and hint.lower().startswith("en") else "ko"


def person_key(platform: str, platform_user_id: str) -> int:
    """A signed 64-bit number for one person (a PostgreSQL advisory lock's key)."""
    digest = hashlib.sha256(f"{platform}\0{platform_user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# The lock every event takes, built once and on the table (Core: no ORM session sync,
# which cost more than the statement itself), see lock_person.
LOCK_POSTGRESQL = text("SELECT pg_advisory_xact_lock(:key)")
_ACCOUNTS = ChatAccount.__table__
LOCK_SQLITE = (update(_ACCOUNTS)
               .where(_ACCOUNTS.c.platform == bindparam("on_platform"),
                      _ACCOUNTS.c.platform_user_id == bindparam("platform_user"))
               .values(id=_ACCOUNTS.c.id))


class AccountService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.accounts = ChatAccountRepo(session)
        self.admins = AdminRepo(session)
        self.members = MemberRepo(session)

    async def lock_person(self, platform: str, platform_user_id: str) -> None:
        """One person's events one at a time, on every instance, until this transaction
        ends: quotas, throttles and first contact are counted under it. PostgreSQL: an
        advisory transaction lock on the person; SQLite: a write as the first statement
        takes the database's write lock at once (BEGIN IMMEDIATE)."""
        if self.session.bind.dialect.name == "postgresql":
            await self.session.execute(LOCK_POSTGRESQL,
                                       {"key": person_key(platform, platform_user_id)})
        else:
            await self.session.execute(
                LOCK_SQLITE, {"on_platform": platform, "platform_user": platform_user_id})

    async def identify(
        self, platform: str, platform_user_id: str, display_name: str | None, hint: str | None
    ) -> tuple[Identity, StoredFlow | None]:
        """Who is writing and the flow they are in: one query for a known account (every
        event pays it), an insert on first contact."""
        found = await self.accounts.with_roles(platform, platform_user_id)
        if found is None:
            account = await self.accounts.get_or_create(
                platform, platform_user_id, display_name, language_from_hint(hint)
            )
            identity = Identity(account.id, platform, platform_user_id, account.language,
                                None, None, False)
            return identity, None
        if display_name and found.display_name != display_name:
            await self.accounts.rename(found.id, display_name)
        flow = None
        if found.flow is not None:
            flow = StoredFlow(found.flow, found.step, dict(found.data), found.expires_at)
        return self._identity(found, platform, platform_user_id), flow

    @staticmethod
    def _identity(found: Any, platform: str, platform_user_id: str) -> Identity:
        return Identity(
            account_id=found.id,
            platform=platform,
            platform_user_id=platform_user_id,
            language=found.language,
            member_id=found.member_id if found.instagram_username else None,
            member_username=found.instagram_username,
            is_admin=found.admin_id is not None,
        )

    async def has_platform(self, who: Identity, platform: str) -> bool:
        """Whether this person also has an account linked on `platform` (same member)."""
        if who.member_id is None:
            return False
        return any(a.platform == platform for a in await self.accounts.of_member(who.member_id))

    async def first_account_of(self, member_id: int) -> int | None:
        """The member's chat account whose unfollow whitelist and kept result a web
        upload uses: their KakaoTalk one (the web page is for KakaoTalk), else the first."""
        accounts = await self.accounts.of_member(member_id)
        accounts.sort(key=lambda a: (a.platform != "kakao", a.id))
        return accounts[0].id if accounts else None

    async def private_chats(self, member_ids: list[int]) -> dict[int, list[tuple[str, str, str]]]:
        """(platform, user id, language) of each member's linked chat accounts."""
        found: dict[int, list[tuple[str, str, str]]] = {}
        for start in range(0, len(member_ids), 500):
            rows = await self.accounts.session.execute(
                select(ChatAccount.member_id, ChatAccount.platform,
                       ChatAccount.platform_user_id, ChatAccount.language)
                .where(ChatAccount.member_id.in_(member_ids[start:start + 500]))
                .order_by(ChatAccount.id))
            for member_id, platform, user_id, language in rows.all():
                found.setdefault(member_id, []).append((platform, user_id, language))
        return found

    async def set_language(self, platform: str, platform_user_id: str, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        account = await self.accounts.get(platform, platform_user_id)
        if account is not None:
            account.language = language

    async def member_accounts(self, platform: str) -> set[str]:
        """User ids on `platform` that are linked to a member."""
        rows = await self.session.scalars(select(ChatAccount.platform_user_id).where(
            ChatAccount.platform == platform, ChatAccount.member_id.is_not(None)))
        return set(rows)

    async def admin_accounts(self) -> list[tuple[str, str, str]]:
        """(platform, platform user id, language) of every claimed admin, for admin menus."""
        return [
            (a.platform, a.platform_user_id, a.language)
            for a in await self.admins.claimed_accounts()
        ]
