"""Kept reads compressed with lz4 on PostgreSQL

A thousand-member post's kept read is ~90 kB of JSON, written at every read of it and
read back at the next: PostgreSQL's default compression of large values (pglz) took
~3.5 ms of its CPU a post to write (a check's first seconds write hundreds, beside the
chat's queries), lz4 ~0.5 ms, for values a quarter larger (measured on 800 states of
the chat-during-checks benchmark's week). Only where the server has lz4 (PostgreSQL 14
or later, built with it); rows written before keep theirs until rewritten. SQLite:
nothing to do.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _lz4() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bool(bind.execute(sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
        "WHERE name = 'default_toast_compression'")).scalar())


def upgrade() -> None:
    if _lz4():
        op.execute("ALTER TABLE post_reads ALTER COLUMN state SET COMPRESSION lz4")


def downgrade() -> None:
    if _lz4():
        op.execute("ALTER TABLE post_reads ALTER COLUMN state SET COMPRESSION DEFAULT")
