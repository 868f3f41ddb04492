"""Retention and legal holds: holds (+ cameras, + objects under S3 legal hold), per-camera
retention state, hash-chained retention audit, job lock leases, executor runs; and a partial
index on the unpruned segments the planner reads. Must match archive/retention/tables.py.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_KEY = 1024
_RULE = 300


def upgrade() -> None:
    op.create_table(
        "legal_hold",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_role", sa.String(32), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("released_by", sa.String(200), nullable=True),
        sa.Column("released_role", sa.String(32), nullable=True),
        sa.Column("released_us", sa.BigInteger, nullable=True),
        sa.Column("release_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_legal_hold_case", "legal_hold", ["case_id"])
    op.create_table(
        "legal_hold_camera",
        sa.Column("hold_id", _ID, sa.ForeignKey("legal_hold.id"), primary_key=True, autoincrement=False),
        sa.Column("camera_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_legal_hold_camera_camera", "legal_hold_camera", ["camera_id"])
    op.create_table(
        "legal_hold_object",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("object_key", sa.String(_KEY), nullable=False),
        sa.Column("version_id", sa.String(_KEY), nullable=False),
        sa.Column("applied_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "retention_camera_state",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(_RULE), nullable=False),
        sa.Column("keep_us", sa.BigInteger, nullable=False),
        sa.Column("legacy_rule", sa.String(_RULE), nullable=True),
        sa.Column("legacy_keep_us", sa.BigInteger, nullable=True),
        sa.Column("legacy_before_us", sa.BigInteger, nullable=True),
        sa.Column("bypass_before_us", sa.BigInteger, nullable=True),
        sa.Column("extend_from_seq", sa.BigInteger, nullable=True),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "retention_audit",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(_RULE), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "job_lock",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("acquired_us", sa.BigInteger, nullable=True),
        sa.Column("expires_us", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "retention_run",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("started_us", sa.BigInteger, nullable=False),
        sa.Column("finished_us", sa.BigInteger, nullable=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=True),
    )
    # The planner reads only unpruned segments, by camera and end time (pruned rows stay forever);
    # covering (seq, start, size) so planning 15M segments never touches the table.
    op.create_index(
        "ix_segment_live_end", "segment", ["camera_id", "end_us", "seq", "start_us", "size"],
        sqlite_where=sa.text("pruned = 0"), postgresql_where=sa.text("pruned = false"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_segment_live_end", table_name="segment")
    op.drop_table("retention_run")
    op.drop_table("job_lock")
    op.drop_table("retention_audit")
    op.drop_table("retention_camera_state")
    op.drop_table("legal_hold_object")
    op.drop_index("ix_legal_hold_camera_camera", table_name="legal_hold_camera")
    op.drop_table("legal_hold_camera")
    op.drop_index("ix_legal_hold_case", table_name="legal_hold")
    op.drop_table("legal_hold")
