"""The pages' language per user (issue 17): ``api_user.language`` (``id``, ``en``; NULL: the
default, Bahasa Indonesia). Must match archive/identity/tables.py.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_user") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_user") as batch:
        batch.drop_column("language")
