"""Members: the epoch of their personal web links (raised to revoke them)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_epoch', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.drop_column('link_epoch')
