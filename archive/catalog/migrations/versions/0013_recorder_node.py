"""Recorder nodes (issue 16): the ``recorder_node`` table (name, capacity, heartbeat by the
database clock, lease TTL, state running|draining|stopped, API address, claim holder; no
secrets). Must match archive/ledger/tables.py.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recorder_node",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("capacity", sa.Float, nullable=False),
        sa.Column("started_us", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_us", sa.BigInteger, nullable=False),
        sa.Column("lease_ttl_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("api", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("recorder_node")
