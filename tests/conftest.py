"""Shared fixtures: a real database (SQLite file, or PostgreSQL by TEST_DATABASE_URL).

`make test` runs on a fresh SQLite file; CI runs the same command again with
TEST_DATABASE_URL pointing at the local PostgreSQL server, where a throw-away database
is created for the run and dropped after it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage import crypto
from storage.db import async_url, create_engine, is_sqlite
from storage.migrations import upgrade
from storage.models import Base

# The property tests draw the same examples on every run, so a run of the suite (CI's
# included) is repeatable; HYPOTHESIS_EXPLORE=1 draws new ones to look for new failures
# (turn each one found into an @example).
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile("explore" if os.environ.get("HYPOTHESIS_EXPLORE")
                                 else "repeatable")
TEST_KEY = Fernet.generate_key().decode()
# The bot's "now" in tests: a Wednesday noon in Seoul, mid-week, whatever the real day.
TEST_NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


async def _admin_execute(server_url: str, statement: str) -> None:
    import asyncpg

    url = make_url(async_url(server_url)).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for the whole run."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server or is_sqlite(server):
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'autogram.sqlite3'}"
        upgrade(url)
        yield url
        return
    name = f"autogram_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin_execute(server, f'CREATE DATABASE "{name}"'))
    url = make_url(async_url(server)).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pytest_configure(config: pytest.Config) -> None:
    """A transaction opened inside another of the same task fails the test that does it
    (services.transactions): on SQLite it would hang the bot."""
    from services.transactions import fail_on_nesting

    fail_on_nesting(True)


@pytest.fixture(autouse=True)
def no_nested_transaction() -> Iterator[None]:
    """Fails the test in which a transaction was opened inside another, even when the
    code caught the error and went on."""
    from services.transactions import nestings_raised

    nestings_raised()
    yield
    assert nestings_raised() == [], "a transaction was opened inside another (above)"


@pytest.fixture(autouse=True)
def encryption_keys() -> Iterator[None]:
    crypto.configure_keys([TEST_KEY])
    yield
    crypto.configure_keys([])


# Children before their parents, so rows can be deleted table by table.
TABLES = [t.name for t in reversed(Base.metadata.sorted_tables)]
# PostgreSQL: the tables holding rows, and the id sequences used since their restart.
HOLDING_ROWS = " UNION ALL ".join(
    f"SELECT '{table}' WHERE EXISTS (SELECT 1 FROM {table})" for table in TABLES)
USED_SEQUENCES = (
    "SELECT sequencename FROM pg_sequences "
    "WHERE schemaname = current_schema() AND last_value IS NOT NULL")


async def wipe(engine: AsyncEngine) -> None:
    """Empty every table, so each test starts from a clean database (on PostgreSQL with
    its ids from 1 again). PostgreSQL deletes the rows of the tables that hold any and
    restarts the sequences used: a TRUNCATE of every table took ~0.2 s a test, most of
    the time the suite spent outside the tests on PostgreSQL."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            holding = {row[0] for row in await conn.execute(text(HOLDING_ROWS))}
            for table in TABLES:
                if table in holding:
                    await conn.execute(text(f"DELETE FROM {table}"))
            for (sequence,) in (await conn.execute(text(USED_SEQUENCES))).all():
                await conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        else:
            for table in TABLES:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await wipe(engine)
    yield engine
    await engine.dispose()


class Clock:
    """A clock a test moves by hand (`clock.now = ...`)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(TEST_NOW)


@pytest.fixture
def timed(services, clock: Clock):  # type: ignore[no-untyped-def]
    """The services on the test's clock."""
    services.clock = clock
    return services


@pytest.fixture
def simulated():  # type: ignore[no-untyped-def]
    """The simulated Instagram the tests' bot talks to (Instagram itself is unreachable)."""
    from services.instagram.simulated import SimulatedInstagram

    return SimulatedInstagram()


@pytest.fixture
def instagram(simulated):  # type: ignore[no-untyped-def]
    from services.instagram.runtime import Instagram

    return Instagram(simulated, max_wait=0.5, patience=0.5)


@pytest.fixture
def services(engine: AsyncEngine, instagram):  # type: ignore[no-untyped-def]
    from services.container import Services
    from services.rules import CommunityRules
    from storage.db import session_factory

    return Services(session_factory(engine), CommunityRules(), lambda: TEST_NOW,
                    serialize=engine.dialect.name == "sqlite", instagram=instagram)


@pytest.fixture
def dispatcher(services):  # type: ignore[no-untyped-def]
    from handlers.dispatcher import Dispatcher

    return Dispatcher(services)


async def database_dump(engine: AsyncEngine) -> str:
    """Every value of every table as text, to scan for a secret stored in the clear."""
    values: list[str] = []
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in await conn.execute(text(f"SELECT * FROM {table.name}")):
                values += [str(v) for v in row]
    return "\n".join(values)


async def record_verdict(session: AsyncSession, member_id: int, submission_id: int,
                         status: str) -> None:
    """Write or overwrite a member's verdict on a post, as a test's given state (the
    verification writes its verdicts in bulk, for a whole post at once)."""
    from sqlalchemy import select

    from storage.models import Verification, utcnow

    row = await session.scalar(select(Verification).where(
        Verification.member_id == member_id, Verification.submission_id == submission_id))
    if row is None:
        row = Verification(member_id=member_id, submission_id=submission_id)
        session.add(row)
    row.status, row.checked_at = status, utcnow()
    await session.flush()
