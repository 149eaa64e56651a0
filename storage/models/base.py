"""Declarative base, naming convention and the UTC datetime column type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no time zone, PostgreSQL would."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous here; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Dialect, coltype: object
                         ) -> Callable[[Any], datetime | None]:
        """process_result_value in one call a value instead of the decorator's two: a
        /status reads a thousand of them (SQLite's text parse stays the driver's)."""
        parse = self.impl_instance.result_processor(dialect, coltype)
        utc = UTC

        if parse is None:
            def aware(value: Any) -> datetime | None:
                return None if value is None else value.replace(tzinfo=utc)
        else:
            def aware(value: Any) -> datetime | None:
                value = parse(value)
                return None if value is None else value.replace(tzinfo=utc)
        return aware


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CreatedAt:
    """Mixin: when the row was written."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
