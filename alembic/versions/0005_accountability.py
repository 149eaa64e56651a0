"""Accountability: member weeks, strikes, and when a pause or suspension ends

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 02:59:44.014228
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.models.base
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member_week',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('owed', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('missing', sa.Integer(), nullable=False),
    sa.Column('unknown', sa.Integer(), nullable=False),
    sa.Column('submitted', sa.Integer(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('clean', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['sns_raise_user.id'], name=op.f('fk_member_week_member_id_sns_raise_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_week')),
    sa.UniqueConstraint('member_id', 'week_start', name=op.f('uq_member_week_member_id_week_start'))
    )
    with op.batch_alter_table('member_week', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_week_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_week_week_start'), ['week_start'], unique=False)

    op.create_table('strike',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('appeal', sa.String(length=16), nullable=True),
    sa.Column('decided_at', storage.models.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', storage.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['sns_raise_user.id'], name=op.f('fk_strike_member_id_sns_raise_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strike')),
    sa.UniqueConstraint('member_id', 'week_start', 'reason', name=op.f('uq_strike_member_id_week_start_reason'))
    )
    with op.batch_alter_table('strike', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strike_member_id'), ['member_id'], unique=False)

    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_until', storage.models.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.drop_column('status_until')

    with op.batch_alter_table('strike', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strike_member_id'))

    op.drop_table('strike')
    with op.batch_alter_table('member_week', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_week_week_start'))
        batch_op.drop_index(batch_op.f('ix_member_week_member_id'))

    op.drop_table('member_week')
