"""A member's last "check now", kept in the database

The "check now" cooldown lived in each process's memory: a restart reset it and every
instance had its own. `sns_raise_user.check_now_at` holds it now, claimed with one
conditional UPDATE, so two presses (on any instances) make one check.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from storage.models.base import UTCDateTime

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_now_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.drop_column('check_now_at')
