"""One instance runs the scheduled jobs: the one holding the leader lock.

PostgreSQL: a session advisory lock, held by one open connection; when the leader's
process dies its connection closes and the lock is free for the next instance.
SQLite (one machine): an exclusive `flock` on a file beside the database; the kernel
releases it when the process exits. Every instance keeps trying, so one takes over.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)
LOCK_KEY = 0x4175746F  # "Auto": the one advisory lock key this product uses


class Leader:
    def __init__(self, engine: AsyncEngine, lock_file: Path | None = None) -> None:
        self.engine = engine
        self.lock_file = lock_file or _lock_file_for(engine)
        self._conn: AsyncConnection | None = None
        self._fd: int | None = None

    @property
    def leading(self) -> bool:
        return self._conn is not None or self._fd is not None

    async def ensure(self) -> bool:
        """True when this instance leads (taking the lock if it is free)."""
        if self.engine.dialect.name == "postgresql":
            return await self._postgres()
        return self._file()

    async def _postgres(self) -> bool:
        if self._conn is not None:
            try:  # still alive? a dropped connection has lost the lock
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # any failure means the lock is gone
                log.warning("lost the leader connection; will try to lead again")
                await self._close_conn()
        conn = await self.engine.connect()
        try:
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                      {"k": LOCK_KEY})).scalar()
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if got:
            self._conn = conn
            log.info("this instance now runs the scheduled jobs")
            return True
        await conn.close()
        return False

    def _file(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        log.info("this instance now runs the scheduled jobs (lock %s)", self.lock_file)
        return True

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # closing a dead connection
                pass

    async def release(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            except Exception:  # the connection may be gone already
                pass
            await self._close_conn()
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def _lock_file_for(engine: AsyncEngine) -> Path:
    database = make_url(str(engine.url)).database or ""
    if database and database != ":memory:":
        return Path(f"{database}.jobs.lock")
    return Path("autogram.jobs.lock")
