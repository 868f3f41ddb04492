"""Who a legal hold belongs to: the agency (or camera owner) that placed it (issue 14 items 3, 4).
Holds placed before this migration have neither: only administrators release them, and only
administrators, auditors and the owners of their cameras (existence only) see them. Must match
archive/retention/tables.py.

Revision ID: 0010
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("legal_hold", sa.Column("agency", sa.String(64), nullable=True))
    op.add_column("legal_hold", sa.Column("owner_id", sa.String(64), nullable=True))
    op.create_index("ix_legal_hold_agency", "legal_hold", ["agency"])


def downgrade() -> None:
    op.drop_index("ix_legal_hold_agency", table_name="legal_hold")
    with op.batch_alter_table("legal_hold") as batch:
        batch.drop_column("owner_id")
        batch.drop_column("agency")
