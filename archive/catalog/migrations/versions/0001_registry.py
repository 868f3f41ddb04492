"""Camera registry: owners and cameras.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owner",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("agencies", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "camera",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.String(64), sa.ForeignKey("owner.id"), nullable=False),
        sa.Column("stream_url", sa.Text, nullable=False),
        sa.Column("username", sa.String(200), nullable=True),
        sa.Column("password_enc", sa.Text, nullable=True),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_camera_owner", "camera", ["owner_id"])
    op.create_index("ix_camera_latlon", "camera", ["latitude", "longitude"])


def downgrade() -> None:
    op.drop_index("ix_camera_latlon", table_name="camera")
    op.drop_index("ix_camera_owner", table_name="camera")
    op.drop_table("camera")
    op.drop_table("owner")
