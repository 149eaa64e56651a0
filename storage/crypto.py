"""Secrets at rest: Fernet column types, so no query can forget to encrypt.

The keys are configured once at start (`configure_keys`), newest first; MultiFernet
decrypts with any of them and encrypts with the newest, which is what makes
`autogram rotate-keys` a simple load-and-save of every secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class SecretsNotConfigured(RuntimeError):
    """Raised when a secret must be stored or read but no key is configured."""


class SecretUnreadable(RuntimeError):
    """Raised when a stored secret was encrypted with a key that is no longer configured."""


_fernet: MultiFernet | None = None
# Where the current keys can be read again (the settings), so a running bot picks up a
# rotation: on SIGHUP, or when a stored secret cannot be read with the keys it has.
_source: Callable[[], list[str]] | None = None


def configure_keys(keys: list[str]) -> None:
    """Install the Fernet keys (newest first); an empty list disables secret storage."""
    global _fernet
    _fernet = MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None


def configured() -> bool:
    """Whether secrets can be stored (ENCRYPTION_KEYS is set)."""
    return _fernet is not None


def set_key_source(source: Callable[[], list[str]] | None) -> None:
    global _source
    _source = source


def reload_keys() -> bool:
    """Read the keys again from their source; whether that gave any."""
    if _source is None:
        return False
    try:
        keys = _source()
    except Exception:  # a settings file that does not read: keep the keys in use
        return False
    if keys:
        configure_keys(keys)
    return bool(keys)


def new_key() -> str:
    """A fresh Fernet key, for `autogram keygen`."""
    return Fernet.generate_key().decode()


def _box() -> MultiFernet:
    if _fernet is None:
        raise SecretsNotConfigured(
            "ENCRYPTION_KEYS is not set: run `autogram keygen` and put the key in .env"
        )
    return _fernet


def encrypt(plain: str) -> str:
    return _box().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        if reload_keys():  # keys rotated while the bot runs: the settings have them
            try:
                return _box().decrypt(token.encode()).decode()
            except InvalidToken:
                pass
        raise SecretUnreadable(
            "a stored secret cannot be decrypted with the configured ENCRYPTION_KEYS "
            "(was an old key removed before `autogram rotate-keys`?)"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt one stored token with the newest key."""
    try:
        return _box().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret cannot be decrypted for rotation") from exc


class EncryptedText(TypeDecorator[str]):
    """A text column whose value is Fernet-encrypted in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document (a login session) stored Fernet-encrypted as text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(json.dumps(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(decrypt(value))
