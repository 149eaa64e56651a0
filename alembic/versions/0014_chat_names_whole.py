"""Chat accounts: the display name stored whole (Text)

Telegram allows a first and a last name of 64 characters each: the full name is 129
characters, past the VARCHAR(128) PostgreSQL enforced (every message of such a person
failed). Names are now stored whole.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('chat_account', schema=None) as batch_op:
        batch_op.alter_column('display_name', existing_type=sa.String(length=128),
                              type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    # Names longer than the old column are cut to fit it.
    op.execute("UPDATE chat_account SET display_name = substr(display_name, 1, 128) "
               "WHERE length(display_name) > 128")
    with op.batch_alter_table('chat_account', schema=None) as batch_op:
        batch_op.alter_column('display_name', existing_type=sa.Text(),
                              type_=sa.String(length=128), existing_nullable=True)
