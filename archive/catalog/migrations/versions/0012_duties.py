"""Separation of duties: who created a user, who confirmed them (a user created over the API
by an administrator is pending until someone else confirms them), and who issued a token.
Must match archive/identity/tables.py.

Users and tokens that exist before this revision are kept as they were: users are confirmed
(``confirmed_by = 'before-0012'``), tokens have no issuer (NULL: shown to their user as a notice).

Revision ID: 0012
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_user", sa.Column("created_by", sa.String(64), nullable=True))
    op.add_column("api_user", sa.Column("confirmed_by", sa.String(64), nullable=True))
    op.add_column("api_user", sa.Column("confirmed_us", sa.BigInteger, nullable=True))
    op.add_column("api_token", sa.Column("issued_by", sa.String(64), nullable=True))
    op.execute("UPDATE api_user SET confirmed_by = 'before-0012', confirmed_us = created_us")


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("issued_by")
    with op.batch_alter_table("api_user") as batch:
        batch.drop_column("confirmed_us")
        batch.drop_column("confirmed_by")
        batch.drop_column("created_by")
