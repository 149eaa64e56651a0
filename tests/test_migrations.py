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


async def test_member_ids_are_never_reused_after_the_migration(tmp_path: Path) -> None:
    """0016 copies sns_raise_user anew on SQLite (AUTOINCREMENT): every row and every row
    that refers to it stays, each member gets a link secret, and a deleted member's id
    is not handed out again."""
    from sqlalchemy import text

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    await asyncio.to_thread(upgrade, url, "0013")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for n in (1, 2):
                await conn.execute(text(
                    "INSERT INTO sns_raise_user (id, instagram_username, status, link_epoch, "
                    f"created_at) VALUES ({n}, 'member{n}', 'active', 0, '2026-12-01')"))
            await conn.execute(text(
                "INSERT INTO chat_account (platform, platform_user_id, language, member_id, "
                "reachable, created_at) VALUES ('telegram', '7', 'ko', 2, 1, '2026-12-01')"))
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            sql = await conn.scalar(text(
                "SELECT sql FROM sqlite_master WHERE name = 'sns_raise_user'"))
            assert "AUTOINCREMENT" in sql
            secrets = (await conn.execute(text(
                "SELECT link_secret FROM sns_raise_user ORDER BY id"))).scalars().all()
            assert len(secrets) == 2 and len(set(secrets)) == 2
            assert all(len(secret) == 16 for secret in secrets)
            assert await conn.scalar(text("SELECT member_id FROM chat_account")) == 2
            await conn.execute(text("DELETE FROM sns_raise_user WHERE id = 2"))
            await conn.execute(text(
                "INSERT INTO sns_raise_user (instagram_username, status, link_epoch, "
                "link_secret, links_made, created_at) "
                "VALUES ('member3', 'active', 0, x'00', 0, '2026-12-02')"))
            assert await conn.scalar(text(
                "SELECT id FROM sns_raise_user WHERE instagram_username = 'member3'")) == 3
    finally:
        await engine.dispose()
