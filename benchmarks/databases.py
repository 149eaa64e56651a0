"""Throw-away databases for the benchmarks that run the bot in its own process: a seeded
template, copied fresh for every run (a SQLite file copy, or a PostgreSQL database made
from it as a template), all dropped at the end."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import async_url, create_engine


async def admin_execute(server: str, statement: str) -> None:
    """One statement on the PostgreSQL server's maintenance database (CREATE/DROP DATABASE)."""
    admin = create_engine(make_url(async_url(server)).set(database="postgres")
                          .render_as_string(hide_password=False))
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await admin.dispose()


class ThrowAwayDatabases:
    def __init__(self, server: str, prefix: str) -> None:
        self.server = server  # a PostgreSQL server ("" : SQLite files)
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.made: list[str] = []

    async def _admin(self, statement: str) -> None:
        await admin_execute(self.server, statement)

    def url(self, name: str) -> str:
        if not self.server:
            return f"sqlite+aiosqlite:///{self.folder / name}.sqlite3"
        return make_url(async_url(self.server)).set(database=name).render_as_string(
            hide_password=False)

    async def close(self) -> None:
        for name in list(self.made):
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(self.folder, ignore_errors=True)
