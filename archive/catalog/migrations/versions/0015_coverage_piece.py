"""Coverage pieces (issue 17, timeline performance): ``coverage_piece``, each camera's segments
merged per 10-minute bucket of their start and per kind (media present / pruned), with counts and
bytes, and ``camera_latest``, each camera's segment with media whose end is the latest; both kept
by the ledger at every segment and prune append (archive/ledger/coverage.py) and built here from
the existing segments. Must match archive/ledger/tables.py.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coverage_piece",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("pruned", sa.Boolean, primary_key=True),
        sa.Column("start_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("last_start_us", sa.BigInteger, nullable=False),
        sa.Column("segments", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "camera_latest",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
    )
    from archive.ledger.coverage import rebuild_all  # the one definition of a piece (also kept at append)

    rebuild_all(op.get_bind())


def downgrade() -> None:
    op.drop_table("camera_latest")
    op.drop_table("coverage_piece")
