"""Evidence exports: requests, their cameras, owner decisions and the custody log. Must match
archive/export/tables.py. The custody log is append-only: triggers refuse UPDATE and DELETE
(and TRUNCATE on PostgreSQL) of ``export_custody``.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE FUNCTION archive_custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the custody log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END
$$
"""


def _triggers_up() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER export_custody_append_only BEFORE UPDATE OR DELETE ON export_custody "
                   "FOR EACH ROW EXECUTE FUNCTION archive_custody_append_only()")  # fmt: skip
        op.execute("CREATE TRIGGER export_custody_no_truncate BEFORE TRUNCATE ON export_custody "
                   "FOR EACH STATEMENT EXECUTE FUNCTION archive_custody_append_only()")  # fmt: skip
    elif dialect == "sqlite":
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER export_custody_no_{what.lower()} BEFORE {what} ON export_custody "
                       f"BEGIN SELECT RAISE(ABORT, 'the custody log is append-only ({what})'); END")  # fmt: skip


def _triggers_down() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS export_custody_append_only ON export_custody")
        op.execute("DROP TRIGGER IF EXISTS export_custody_no_truncate ON export_custody")
        op.execute("DROP FUNCTION IF EXISTS archive_custody_append_only()")
    elif dialect == "sqlite":
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS export_custody_no_{what}")


def upgrade() -> None:
    op.create_table(
        "export_request",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(128), nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_name", sa.String(200), nullable=False),
        sa.Column("requested_role", sa.String(20), nullable=False),
        sa.Column("requested_agency", sa.String(64), nullable=True),
        sa.Column("requested_us", sa.BigInteger, nullable=False),
        sa.Column("hold_id", sa.BigInteger, nullable=True),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("progress_done", sa.BigInteger, nullable=False),
        sa.Column("progress_total", sa.BigInteger, nullable=False),
        sa.Column("build_started_us", sa.BigInteger, nullable=True),
        sa.Column("build_finished_us", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("package_name", sa.String(300), nullable=True),
        sa.Column("package_path", sa.Text, nullable=True),
        sa.Column("package_sha256", sa.String(64), nullable=True),
        sa.Column("package_size", sa.BigInteger, nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_export_request_status", "export_request", ["status"])
    op.create_index("ix_export_request_case", "export_request", ["case_id"])
    op.create_table(
        "export_camera",
        sa.Column("export_id", sa.String(32), sa.ForeignKey("export_request.id"), primary_key=True),
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
    )
    op.create_index("ix_export_camera_owner", "export_camera", ["owner_id"])
    op.create_table(
        "export_decision",
        sa.Column("export_id", sa.String(32), sa.ForeignKey("export_request.id"), primary_key=True),
        sa.Column("owner_id", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
    )
    op.create_table(
        "export_custody",
        sa.Column("export_id", sa.String(32), sa.ForeignKey("export_request.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    _triggers_up()


def downgrade() -> None:
    _triggers_down()
    op.drop_table("export_custody")
    op.drop_table("export_decision")
    op.drop_index("ix_export_camera_owner", table_name="export_camera")
    op.drop_table("export_camera")
    op.drop_index("ix_export_request_case", table_name="export_request")
    op.drop_index("ix_export_request_status", table_name="export_request")
    op.drop_table("export_request")
