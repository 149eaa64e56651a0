"""Post reads kept: a paused or failed read goes on, a read post is read again only for
what is newer

The week's check read every post from its first page at each run, and a read a rate
limit cut was lost with the process. `post_reads` keeps, per submitted post, the read
in progress (JSON) and the summary of the last read that went through every page (the
newest comment, the cursor to what is newer, distinct comments and the count reported,
when), so a run resumes a read where it stopped and reads a post read once only for
its newer comments.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from storage.models.base import UTCDateTime

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'post_reads',
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.Text(), nullable=True),
        sa.Column('finished', sa.Boolean(), nullable=False),
        sa.Column('newest_pk', sa.String(length=32), nullable=True),
        sa.Column('newest_at', UTCDateTime(), nullable=True),
        sa.Column('head_cursor', sa.Text(), nullable=True),
        sa.Column('seen', sa.Integer(), nullable=True),
        sa.Column('reported', sa.Integer(), nullable=True),
        sa.Column('exhausted_at', UTCDateTime(), nullable=True),
        sa.Column('read_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['submission_id'], ['request_by_week.id'],
                                name=op.f('fk_post_reads_submission_id_request_by_week'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_post_reads')),
    )


def downgrade() -> None:
    op.drop_table('post_reads')
