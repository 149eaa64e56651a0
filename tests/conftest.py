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
from tests.support.clock import Clock

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


@pytest.fixture
def clock() -> Clock:
    """The container's clock (TEST_NOW until the test moves it)."""
    return Clock(TEST_NOW)


@pytest.fixture
def timed(services):  # type: ignore[no-untyped-def]
    """The services, whose clock is the `clock` fixture (a name kept for the tests that
    move it)."""
    return services


@pytest.fixture
def rules(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The community's rules: the defaults, or those a `@pytest.mark.rules(...)` changes
    (as an operator's settings would, before the container is built)."""
    from dataclasses import replace

    from services.rules import CommunityRules

    marker = request.node.get_closest_marker("rules")
    return replace(CommunityRules(), **marker.kwargs) if marker else CommunityRules()


@pytest.fixture
def web_links(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """NoWebLinks, or with `@pytest.mark.web_site(...)` the web pages' links: on a free
    local port (the demo site of tests/support/web_site.py serves it), or at `root`."""
    from services.web.links import NoWebLinks, WebLinks
    from tests.support.web_site import free_port

    marker = request.node.get_closest_marker("web_site")
    if marker is None:
        return NoWebLinks()
    options = {"keys": [Fernet.generate_key().decode()], **marker.kwargs}
    root = options.pop("root", f"http://127.0.0.1:{free_port()}")
    return WebLinks(root, **options)


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
def services(engine: AsyncEngine, instagram, clock: Clock, rules,  # type: ignore[no-untyped-def]
             web_links):
    """The container, built once as bot/wiring.py builds it: on the test's clock, rules
    and web links (markers above), with the simulated Instagram."""
    from services.container import Services
    from storage.db import session_factory

    return Services(session_factory(engine), rules, clock,
                    serialize=engine.dialect.name == "sqlite", instagram=instagram,
                    web=web_links)


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
