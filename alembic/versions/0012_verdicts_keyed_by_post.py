"""Verdicts: keyed by (post, member), the one index (no id, no unique, no post index)

A post's verdicts are written together, a thousand-member week 2.5 million of them:
each row now goes into one index instead of three, next to the post's other rows, and
takes no number from a sequence.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user_action_verification', schema=None) as batch_op:
        batch_op.drop_constraint('pk_user_action_verification', type_='primary')
        batch_op.drop_constraint(
            batch_op.f('uq_user_action_verification_member_id_submission_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_user_action_verification_submission_id'))
        batch_op.drop_column('id')
        batch_op.create_primary_key('pk_user_action_verification',
                                    ['submission_id', 'member_id'])


def downgrade() -> None:
    with op.batch_alter_table('user_action_verification', schema=None) as batch_op:
        batch_op.drop_constraint('pk_user_action_verification', type_='primary')
        batch_op.add_column(sa.Column('id', sa.Integer(), sa.Identity(), nullable=False))
        batch_op.create_primary_key('pk_user_action_verification', ['id'])
        batch_op.create_index(batch_op.f('ix_user_action_verification_submission_id'),
                              ['submission_id'], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f('uq_user_action_verification_member_id_submission_id'),
            ['member_id', 'submission_id'])
