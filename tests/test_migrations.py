"""The models and the newest migration agree; a database that is behind is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrations import DatabaseBehind, ensure_current, head_revision, upgrade
from storage.models import Base


async def test_models_and_newest_migration_agree(engine: AsyncEngine) -> None:
    def diff(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    await ensure_current(engine)


async def test_a_database_that_is_behind_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.sqlite3'}"
    engine = create_engine(url)
    try:
        with pytest.raises(DatabaseBehind, match="autogram migrate"):
            await ensure_current(engine)
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        await ensure_current(engine)
        assert head_revision() is not None
    finally:
        await engine.dispose()
