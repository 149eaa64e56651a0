"""Helpers count their failures (shown by /helpers)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 02:07:46.392184
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('helper', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failures', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('helper', schema=None) as batch_op:
        batch_op.drop_column('failures')
