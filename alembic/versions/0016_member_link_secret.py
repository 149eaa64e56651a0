"""Members: ids never reused, a random secret for personal links, /newlink's daily count

A deleted member's id went to the next member added on SQLite (no AUTOINCREMENT), and
personal links named the id: an old link could open someone else's page. The table is
made AUTOINCREMENT on SQLite (recreated; PostgreSQL's sequence never reuses ids), links
name a random per-member secret instead (existing members get one here), and the
number of /newlink of the day is counted.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 04:15:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    # Added without a table copy first (filled below), then made required.
    op.add_column('sns_raise_user', sa.Column('link_secret', sa.LargeBinary(length=16),
                                              nullable=True))
    op.add_column('sns_raise_user', sa.Column('links_made_on', sa.Date(), nullable=True))
    op.add_column('sns_raise_user', sa.Column('links_made', sa.Integer(), server_default='0',
                                              nullable=False))
    members = sa.table('sns_raise_user', sa.column('id', sa.Integer()),
                       sa.column('link_secret', sa.LargeBinary()))
    for (member_id,) in bind.execute(sa.select(members.c.id)).all():
        bind.execute(members.update().where(members.c.id == member_id)
                     .values(link_secret=secrets.token_bytes(16)))
    # On SQLite the table is copied anew with AUTOINCREMENT (env.py turns foreign keys
    # off for migrations there, so dropping the old copy cascades to nothing).
    with op.batch_alter_table('sns_raise_user', schema=None,
                              recreate='always' if sqlite else 'auto',
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('link_secret', existing_type=sa.LargeBinary(length=16),
                              nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_sns_raise_user_link_secret'),
                                          ['link_secret'])
    if sqlite:  # the ids handed out so far stay taken
        bind.execute(sa.text(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'sns_raise_user', "
            "COALESCE(MAX(id), 0) FROM sns_raise_user "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sns_raise_user')"))


def downgrade() -> None:
    with op.batch_alter_table('sns_raise_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sns_raise_user_link_secret'), type_='unique')
        batch_op.drop_column('links_made')
        batch_op.drop_column('links_made_on')
        batch_op.drop_column('link_secret')
