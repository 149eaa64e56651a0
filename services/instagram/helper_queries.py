"""Helper accounts as rows (the helper service's queries)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.names import name_key
from storage.models import Helper


class HelperRepo:
    """Helper accounts by their Instagram username (lower-case, as stored)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, instagram_username: str, password: str) -> Helper:
        helper = Helper(instagram_username=name_key(instagram_username), password=password)
        self.session.add(helper)
        await self.session.flush()
        return helper

    async def by_username(self, instagram_username: str) -> Helper | None:
        return await self.session.scalar(
            select(Helper).where(Helper.instagram_username == name_key(instagram_username))
        )

    async def list(self) -> list[Helper]:
        return list(await self.session.scalars(select(Helper).order_by(Helper.id)))

    async def delete(self, helper: Helper) -> None:
        await self.session.delete(helper)
        await self.session.flush()
