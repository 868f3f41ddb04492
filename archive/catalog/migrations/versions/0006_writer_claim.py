"""One writer per camera log: the ``writer_claim`` table (holder, epoch, expiry by the database
clock) and the claim of the last append on ``log_state``. Must match archive/ledger/tables.py.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "writer_claim",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("claimed_us", sa.BigInteger, nullable=False),
        sa.Column("renewed_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
    )
    op.add_column("log_state", sa.Column("writer_holder", sa.String(255), nullable=True))
    op.add_column("log_state", sa.Column("writer_epoch", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_state") as batch:
        batch.drop_column("writer_epoch")
        batch.drop_column("writer_holder")
    op.drop_table("writer_claim")
