"""Engine and sessions: SQLite (WAL, foreign keys on) by default, PostgreSQL by URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///autogram.sqlite3"


def async_url(url: str) -> str:
    """Pick the async driver for a plain URL (`postgresql://`, `sqlite:///`)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql" and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver begins each transaction right before its first write; IMMEDIATE takes the
    # write lock at that moment, waiting for it up to busy_timeout when another
    # connection (another bot instance) holds it. Reads before the first write see the
    # latest commit. Within one process the services queue their transactions
    # (services.container), so these waits stay short and never time out under load.
    dbapi_connection.isolation_level = "IMMEDIATE"
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; one fsync per checkpoint
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, or in memory)."""
    if not is_sqlite(url):
        return None
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def keep_private(url: str, *, create: bool = False) -> None:
    """A SQLite database holds encrypted passwords and everyone's data: only its owner
    reads it (SQLite gives its -wal and -shm files the same mode). `create` (migrate)
    makes a missing file with mode 0600 when its folder exists; an existing file is set
    to 0600."""
    path = sqlite_file(url)
    if path is None or not path.parent.is_dir():
        return  # a missing folder is reported by whoever opens the database
    if path.exists():
        path.chmod(0o600)
    elif create:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def create_engine(url: str) -> AsyncEngine:
    """An async engine; on SQLite every connection enforces foreign keys and uses WAL."""
    url = async_url(url)
    keep_private(url)
    # hide_parameters: a failed statement must never print a password into a log.
    engine = create_async_engine(url, pool_pre_ping=not is_sqlite(url), hide_parameters=True)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def begin_reading(session: AsyncSession) -> None:
    """Make the session's new transaction a read-only snapshot: every read of the block
    sees the database as it was at its first, and a write fails. PostgreSQL: a
    `REPEATABLE READ, READ ONLY` transaction (a read-only one never fails to serialize).
    SQLite: a deferred `BEGIN`, without the writer's lock (the driver would begin only
    at a write, each read seeing the latest commit), and `query_only` for the block."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("BEGIN DEFERRED")
        await connection.exec_driver_sql("PRAGMA query_only = ON")
    else:
        await connection.exec_driver_sql(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


async def end_reading(session: AsyncSession) -> None:
    """Give the connection back able to write (SQLite's `query_only` outlives the
    transaction); a connection that cannot be told is dropped from the pool."""
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        return
    try:
        await connection.exec_driver_sql("PRAGMA query_only = OFF")
    except Exception:
        await connection.invalidate()
        raise
