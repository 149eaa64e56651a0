"""Passwords and sessions are encrypted at rest, and keys rotate."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.instagram.helper_queries import HelperRepo
from services.members.queries import MemberRepo
from storage import crypto
from storage.db import session_factory
from storage.models import Base, Producer
from storage.rotation import ENCRYPTED_COLUMNS, rotate_all

PASSWORD = "hunter2-비밀번호-PLAIN"
SESSION = {"cookies": {"sessionid": "SESSIONCOOKIE-PLAIN"}}


async def _store_secrets(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        helper = await HelperRepo(s).add("helper_one", PASSWORD)
        helper.session = SESSION
        member = await MemberRepo(s).add("bob")
        producer = Producer(member_id=member.id, instagram_username="bob", password=PASSWORD)
        s.add(producer)
        producer.session = SESSION
        await s.commit()


async def _raw_values(engine: AsyncEngine) -> list[str]:
    values = []
    async with engine.connect() as conn:
        for table, columns in ENCRYPTED_COLUMNS.items():
            rows = await conn.execute(text(f"SELECT {', '.join(columns)} FROM {table}"))
            values += [v for row in rows for v in row]
    return values


async def test_raw_rows_and_file_never_hold_the_plain_secret(
    engine: AsyncEngine, database_url: str
) -> None:
    await _store_secrets(engine)
    raw = await _raw_values(engine)
    assert len(raw) == 4
    for value in raw:
        assert "PLAIN" not in value and "hunter2" not in value
        assert value.startswith("gAAAA")  # a Fernet token
    if engine.dialect.name == "sqlite":
        # The database file and its write-ahead log together hold every row written.
        path = database_url.split(":///", 1)[1]
        for file in (Path(path), Path(path + "-wal")):
            if not file.exists():
                continue
            data = file.read_bytes()
            assert b"PLAIN" not in data and PASSWORD.encode() not in data
    # Read back through the model, the secret is whole again.
    async with session_factory(engine)() as s:
        helper = await HelperRepo(s).by_username("helper_one")
        assert helper.password == PASSWORD and helper.session == SESSION


async def test_every_encrypted_column_is_listed_for_rotation() -> None:
    found = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, crypto.EncryptedText | crypto.EncryptedJSON)
    }
    listed = {(t, c) for t, cols in ENCRYPTED_COLUMNS.items() for c in cols}
    assert found == listed


async def test_rotate_keys_reencrypts_with_the_newest_key(engine: AsyncEngine) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    crypto.configure_keys([old])
    await _store_secrets(engine)
    before = await _raw_values(engine)

    crypto.configure_keys([new, old])
    assert await rotate_all(engine) == 4
    after = await _raw_values(engine)
    assert all(a != b for a, b in zip(after, before, strict=True))

    crypto.configure_keys([new])  # the old key can now be dropped
    async with session_factory(engine)() as s:
        helper = await HelperRepo(s).by_username("helper_one")
        assert helper.password == PASSWORD and helper.session == SESSION

    crypto.configure_keys([old])  # and the old key alone no longer reads them
    async with session_factory(engine)() as s:
        with pytest.raises(crypto.SecretUnreadable):
            await HelperRepo(s).by_username("helper_one")


async def test_storing_a_secret_without_keys_fails_clearly(engine: AsyncEngine) -> None:
    crypto.configure_keys([])
    async with session_factory(engine)() as s:
        with pytest.raises(StatementError) as failure:
            await HelperRepo(s).add("helper_one", PASSWORD)
    assert isinstance(failure.value.orig, crypto.SecretsNotConfigured)
    assert "autogram keygen" in str(failure.value)
    assert PASSWORD not in str(failure.value)  # never echoed into a log


async def test_a_running_bot_reads_rotated_keys_when_the_old_ones_fail(
    engine: AsyncEngine,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    crypto.configure_keys([old])
    await _store_secrets(engine)
    crypto.configure_keys([new, old])
    await rotate_all(engine)  # `autogram rotate-keys`, in another process
    settings = {"keys": [new]}  # the operator then drops the old key from .env
    crypto.configure_keys([old])  # the running bot still has only the old one
    crypto.set_key_source(lambda: settings["keys"])
    try:
        async with session_factory(engine)() as s:
            helper = await HelperRepo(s).by_username("helper_one")
            assert helper is not None and helper.password == PASSWORD
    finally:
        crypto.set_key_source(None)


def test_sighup_reloads_the_keys() -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    crypto.configure_keys([first])
    token = Fernet(second.encode()).encrypt(b"x").decode()
    crypto.set_key_source(lambda: [second])
    try:
        assert crypto.reload_keys()
        assert crypto.decrypt(token) == "x"
    finally:
        crypto.set_key_source(None)
