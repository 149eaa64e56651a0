"""Verdicts: drop the member index the (member, post) unique constraint already covers

Each index is written on every verdict: a 1,000-member week writes about 2.5 million.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user_action_verification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_action_verification_member_id'))


def downgrade() -> None:
    with op.batch_alter_table('user_action_verification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_action_verification_member_id'), ['member_id'],
                              unique=False)
