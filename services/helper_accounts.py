"""Helper Instagram accounts as admins register them (the read side of the gateway uses them)."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.instagram_accounts import HelperRepo
from storage.repositories.operations import AuditRepo

# Instagram: 1-30 letters, digits, periods and underscores; no leading/trailing or double period.
USERNAME = re.compile(r"^(?!\.)(?!.*\.\.)(?!.*\.$)[a-z0-9._]{1,30}$")


def normalize_username(text: str) -> str | None:
    """`@Kim.Minji` or an instagram.com profile link -> `kim.minji`; None when not a username."""
    value = text.strip()
    match = re.match(r"^(?:https?://)?(?:www\.)?instagram\.com/([^/?#]+)/?(?:[?#].*)?$", value)
    if match:
        value = match.group(1)
    value = value.removeprefix("@").lower()
    return value if USERNAME.match(value) else None


class HelperAccountService:
    def __init__(self, session: AsyncSession) -> None:
        self.helpers = HelperRepo(session)
        self.audit = AuditRepo(session)

    async def exists(self, username: str) -> bool:
        return await self.helpers.by_username(username) is not None

    async def add(self, actor_id: int, username: str, password: str) -> None:
        """Store the account with its password encrypted; it logs in on first use."""
        await self.helpers.add(username, password)
        await self.audit.add(actor_id, "helper_added", target=username)

    async def list(self) -> list[tuple[str, str]]:
        return [(h.instagram_username, h.status) for h in await self.helpers.list()]
