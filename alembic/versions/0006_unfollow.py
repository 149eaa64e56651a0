"""The unfollow check: whitelists and kept follower lists

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:13:09.417015
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.models.base
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('follow_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_account_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', storage.models.base.UTCDateTime(), nullable=False),
    sa.Column('followers', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['chat_account_id'], ['chat_account.id'], name=op.f('fk_follow_snapshot_chat_account_id_chat_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_snapshot')),
    sa.UniqueConstraint('chat_account_id', name=op.f('uq_follow_snapshot_chat_account_id'))
    )
    op.create_table('follow_whitelist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_account_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=30), nullable=False),
    sa.Column('created_at', storage.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['chat_account_id'], ['chat_account.id'], name=op.f('fk_follow_whitelist_chat_account_id_chat_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_whitelist')),
    sa.UniqueConstraint('chat_account_id', 'username', name=op.f('uq_follow_whitelist_chat_account_id_username'))
    )
    with op.batch_alter_table('follow_whitelist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_whitelist_chat_account_id'), ['chat_account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('follow_whitelist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_whitelist_chat_account_id'))

    op.drop_table('follow_whitelist')
    op.drop_table('follow_snapshot')
