"""Where each user stands in a multi-step flow, kept in the database with an expiry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.members.chat_accounts import StoredFlow
from storage import crypto
from storage.models import ConversationState, utcnow


class ConversationRepo:
    """The one conversation row per (platform, user): where a person is in a flow."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, platform: str, platform_user_id: str) -> ConversationState | None:
        return await self.session.scalar(
            select(ConversationState).where(
                ConversationState.platform == platform,
                ConversationState.platform_user_id == platform_user_id,
            )
        )

    async def save(
        self,
        platform: str,
        platform_user_id: str,
        flow: str,
        step: str,
        data: dict[str, Any],
        expires_at: datetime,
    ) -> ConversationState:
        state = await self.get(platform, platform_user_id)
        if state is None:
            state = ConversationState(platform=platform, platform_user_id=platform_user_id)
            self.session.add(state)
        state.flow, state.step, state.data = flow, step, dict(data)
        state.expires_at, state.updated_at = expires_at, utcnow()
        await self.session.flush()
        return state

    async def clear(self, platform: str, platform_user_id: str) -> None:
        await self.session.execute(
            delete(ConversationState).where(
                ConversationState.platform == platform,
                ConversationState.platform_user_id == platform_user_id,
            )
        )


def seal(secret: str) -> str | None:
    """A secret a flow keeps in its state (a password asked about, a login waiting for
    its code), encrypted: the state is stored as plain JSON. None: no ENCRYPTION_KEYS,
    so it is not kept at all."""
    return crypto.encrypt(secret) if crypto.configured() else None


def unseal(sealed: object) -> str | None:
    """The secret `seal` gave (None: none, or it cannot be read with the keys)."""
    if not isinstance(sealed, str) or not sealed:
        return None
    try:
        return crypto.decrypt(sealed)
    except (crypto.SecretsNotConfigured, crypto.SecretUnreadable):
        return None


@dataclass
class FlowState:
    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    expired: bool = False


class ConversationService:
    def __init__(self, session: AsyncSession, timeout: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.repo = ConversationRepo(session)
        self.timeout = timeout
        self.clock = clock  # the services' clock, so tests can let a flow expire

    async def load(self, platform: str, user_id: str) -> FlowState | None:
        """The user's flow; an expired one is cleared and returned once with `expired`."""
        row = await self.repo.get(platform, user_id)
        if row is None:
            return None
        return await self.resume(platform, user_id, StoredFlow(row.flow, row.step, row.data,
                                                                row.expires_at))

    async def resume(self, platform: str, user_id: str, stored: StoredFlow | None
                     ) -> FlowState | None:
        """The flow from a row already read (with the account); expiry as in `load`."""
        if stored is None:
            return None
        state = FlowState(stored.flow, stored.step, dict(stored.data))
        if stored.expires_at <= self.clock():
            await self.repo.clear(platform, user_id)
            state.expired = True
        return state

    async def save(self, platform: str, user_id: str, state: FlowState) -> None:
        await self.repo.save(
            platform, user_id, state.flow, state.step, state.data, self.clock() + self.timeout
        )

    async def clear(self, platform: str, user_id: str) -> None:
        await self.repo.clear(platform, user_id)
