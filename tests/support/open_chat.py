"""Members the open chat's exports name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.container import Services
from services.members.queries import MemberRepo
from services.rules import CommunityRules
from storage.db import session_factory
from tests.support.clock import Clock

# The importing moment: Monday 22 Dec 2025, 10:00 in Seoul (the export was made that day).
IMPORT_TIME = datetime(2025, 12, 22, 1, 0, tzinfo=UTC)


MEMBERS = ("hana.daily", "dy_lee", "seojun_p", "mina.c")


@pytest.fixture
def world(engine: AsyncEngine) -> Services:
    """The container on the import's day; a test moves its clock (`world.clock.now`)."""
    return Services(session_factory(engine), CommunityRules(), Clock(IMPORT_TIME))


async def add_members(world: Services, names: tuple[str, ...] = MEMBERS) -> None:
    async with world.transaction() as tx:
        for name in names:
            await MemberRepo(tx.session).add(name, joined_at=datetime(2025, 1, 1, tzinfo=UTC))

