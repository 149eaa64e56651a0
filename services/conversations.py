"""Where each user stands in a multi-step flow, kept in the database with an expiry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import utcnow
from storage.repositories.operations import ConversationRepo


@dataclass
class FlowState:
    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    expired: bool = False


class ConversationService:
    def __init__(self, session: AsyncSession, timeout: timedelta) -> None:
        self.repo = ConversationRepo(session)
        self.timeout = timeout

    async def load(self, platform: str, user_id: str) -> FlowState | None:
        """The user's flow; an expired one is cleared and returned once with `expired`."""
        row = await self.repo.get(platform, user_id)
        if row is None:
            return None
        state = FlowState(row.flow, row.step, dict(row.data))
        if row.expires_at <= utcnow():
            await self.repo.clear(platform, user_id)
            state.expired = True
        return state

    async def save(self, platform: str, user_id: str, state: FlowState) -> None:
        await self.repo.save(
            platform, user_id, state.flow, state.step, state.data, utcnow() + self.timeout
        )

    async def clear(self, platform: str, user_id: str) -> None:
        await self.repo.clear(platform, user_id)
