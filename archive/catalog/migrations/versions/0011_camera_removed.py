"""A removed camera: ``camera.removed_us`` (when ``archive cameras remove`` took it out of service;
NULL while it is in service). Its evidence and log entries stay. Must match archive/catalog/tables.py.

Revision ID: 0011
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("camera", sa.Column("removed_us", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("camera") as batch:
        batch.drop_column("removed_us")
