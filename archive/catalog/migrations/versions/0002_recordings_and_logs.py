"""Recordings (segments, gaps) and per-camera evidence logs (entries, nodes, state, checkpoints,
cosignatures, signing keys). Must match archive/ledger/tables.py (a test checks).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LOG = 300
_KEY = 1024


def upgrade() -> None:
    op.create_table(
        "segment",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("object_key", sa.String(_KEY), nullable=False),
        sa.Column("version_id", sa.String(_KEY), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("duration_us", sa.BigInteger, nullable=False),
        sa.Column("clock_offset_us", sa.BigInteger, nullable=True),
        sa.Column("camera_start_us", sa.BigInteger, nullable=True),
        sa.Column("container", sa.String(64), nullable=False),
        sa.Column("codec", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("keyframe_start", sa.Boolean, nullable=False),
        sa.Column("partial", sa.Boolean, nullable=False),
        sa.Column("pruned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("ingested_us", sa.BigInteger, nullable=False),
        sa.Column("meta", sa.Text, nullable=True),
        sa.UniqueConstraint("camera_id", "seq", name="uq_segment_camera_seq"),
    )
    op.create_index("ix_segment_camera_start", "segment", ["camera_id", "start_us"])
    op.create_index("ix_segment_camera_end", "segment", ["camera_id", "end_us"])
    op.create_index("ix_segment_camera_object", "segment", ["camera_id", "object_key", "version_id"])

    op.create_table(
        "gap",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.UniqueConstraint("camera_id", "seq", name="uq_gap_camera_seq"),
    )
    op.create_index("ix_gap_camera_start", "gap", ["camera_id", "start_us"])

    op.create_table(
        "log_entry",
        sa.Column("log_id", sa.String(_LOG), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_log_entry_kind", "log_entry", ["log_id", "kind", "seq"])

    op.create_table(
        "log_node",
        sa.Column("log_id", sa.String(_LOG), primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )

    op.create_table(
        "log_state",
        sa.Column("log_id", sa.String(_LOG), primary_key=True),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_log_state_camera", "log_state", ["camera_id"])

    op.create_table(
        "log_checkpoint",
        sa.Column("log_id", sa.String(_LOG), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("signed_us", sa.BigInteger, nullable=False),
        sa.Column("object_key", sa.String(_KEY), nullable=False),
        sa.Column("version_id", sa.String(_KEY), nullable=False),
        sa.Column("entries_key", sa.String(_KEY), nullable=True),
        sa.Column("entries_version_id", sa.String(_KEY), nullable=True),
    )

    op.create_table(
        "log_cosignature",
        sa.Column("log_id", sa.String(_LOG), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("key_id", sa.String(8), primary_key=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("added_us", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "signing_key",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("key_id", sa.String(8), primary_key=True),
        sa.Column("verifier_key", sa.Text, nullable=False),
        sa.Column("private_enc", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("retired_us", sa.BigInteger, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("signing_key")
    op.drop_table("log_cosignature")
    op.drop_table("log_checkpoint")
    op.drop_index("ix_log_state_camera", table_name="log_state")
    op.drop_table("log_state")
    op.drop_table("log_node")
    op.drop_index("ix_log_entry_kind", table_name="log_entry")
    op.drop_table("log_entry")
    op.drop_index("ix_gap_camera_start", table_name="gap")
    op.drop_table("gap")
    op.drop_index("ix_segment_camera_object", table_name="segment")
    op.drop_index("ix_segment_camera_end", table_name="segment")
    op.drop_index("ix_segment_camera_start", table_name="segment")
    op.drop_table("segment")
