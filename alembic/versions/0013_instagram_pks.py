"""People known by Instagram's numeric id; old names kept; co-authors, private posts and
"not found" evidence on posts

Usernames change, the pk does not: members, helpers, consumers and producers get
`instagram_pk` (learned from the first read that shows the account), and a member's
earlier usernames are kept in `member_name` so old links, imports and results still
resolve. Posts keep their author's pk, their co-authors' names, and which helpers said
"not found" since when (a post is gone only when reads hours apart agree).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from storage.models.base import UTCDateTime

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNTS = ('helper', 'consumer', 'producer')


def upgrade() -> None:
    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instagram_pk', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_sns_raise_user_instagram_pk'), ['instagram_pk'],
                              unique=False)
    for table in ACCOUNTS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('instagram_pk', sa.String(length=32), nullable=True))
    with op.batch_alter_table('request_by_week', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_pk', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('coauthors', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('not_found_by', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_request_by_week_shortcode'), ['shortcode'],
                              unique=False)
    op.create_table(
        'member_name',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=30), nullable=False),
        sa.Column('until', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['sns_raise_user.id'],
                                name=op.f('fk_member_name_member_id_sns_raise_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_member_name')),
    )
    with op.batch_alter_table('member_name', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_name_member_id'), ['member_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_member_name_username'), ['username'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('member_name')
    with op.batch_alter_table('request_by_week', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_by_week_shortcode'))
        batch_op.drop_column('not_found_by')
        batch_op.drop_column('coauthors')
        batch_op.drop_column('author_pk')
    for table in ACCOUNTS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('instagram_pk')
    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sns_raise_user_instagram_pk'))
        batch_op.drop_column('instagram_pk')
