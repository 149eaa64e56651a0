"""Who is writing: the chat account, its language, its member and whether it is an admin."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.members import AdminRepo, ChatAccountRepo, MemberRepo

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


def language_from_hint(hint: str | None) -> str:
    """The language for a first contact: English for an English app, Korean otherwise."""
    return "en" if hint and hint.lower().startswith("en") else "ko"


class AccountService:
    def __init__(self, session: AsyncSession) -> None:
        self.accounts = ChatAccountRepo(session)
        self.admins = AdminRepo(session)
        self.members = MemberRepo(session)

    async def identify(
        self, platform: str, platform_user_id: str, display_name: str | None, hint: str | None
    ) -> Identity:
        account = await self.accounts.get_or_create(
            platform, platform_user_id, display_name, language_from_hint(hint)
        )
        member = await self.members.get(account.member_id) if account.member_id else None
        return Identity(
            account_id=account.id,
            platform=platform,
            platform_user_id=platform_user_id,
            language=account.language,
            member_id=member.id if member else None,
            member_username=member.instagram_username if member else None,
            is_admin=await self.admins.is_admin(account.id),
        )

    async def set_language(self, platform: str, platform_user_id: str, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        account = await self.accounts.get(platform, platform_user_id)
        if account is not None:
            account.language = language

    async def admin_accounts(self) -> list[tuple[str, str, str]]:
        """(platform, platform user id, language) of every claimed admin, for admin menus."""
        return [
            (a.platform, a.platform_user_id, a.language)
            for a in await self.admins.claimed_accounts()
        ]
