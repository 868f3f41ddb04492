"""Identity (agencies, users, API tokens) and the API's audit trail (entries, Merkle nodes,
signed checkpoints). Must match archive/identity/tables.py and
archive/audit/tables.py (a test checks). The audit tables are append-only: triggers refuse
UPDATE and DELETE (and TRUNCATE on PostgreSQL) of entries, nodes and checkpoints.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("audit_event", "audit_node", "audit_checkpoint")
_PG_FUNCTION = """
CREATE FUNCTION archive_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END
$$
"""


def _triggers_up() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_FUNCTION)
        for t in _APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       "FOR EACH ROW EXECUTE FUNCTION archive_audit_append_only()")  # fmt: skip
            op.execute(f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION archive_audit_append_only()")  # fmt: skip
    elif dialect == "sqlite":
        for t in _APPEND_ONLY:
            for what in ("UPDATE", "DELETE"):
                refuse = f"SELECT RAISE(ABORT, 'the audit trail is append-only ({what} on {t})')"
                op.execute(f"CREATE TRIGGER {t}_no_{what.lower()} BEFORE {what} ON {t} BEGIN {refuse}; END")


def _triggers_down() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for t in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
            op.execute(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}")
        op.execute("DROP FUNCTION IF EXISTS archive_audit_append_only()")
    elif dialect == "sqlite":
        for t in _APPEND_ONLY:
            for what in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_no_{what}")


def upgrade() -> None:
    op.create_table(
        "agency",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "api_user",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("agency_id", sa.String(64), sa.ForeignKey("agency.id"), nullable=True),
        sa.Column("owner_id", sa.String(64), sa.ForeignKey("owner.id"), nullable=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("disabled_us", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("api_user.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Column("revoked_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_api_token_user", "api_token", ["user_id"])

    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("agency", sa.String(64), nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at_us"])
    op.create_index("ix_audit_event_actor", "audit_event", ["actor", "seq"])
    op.create_index("ix_audit_event_action", "audit_event", ["action", "seq"])
    op.create_table(
        "audit_node",
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "audit_lock",
        sa.Column("log_id", sa.String(300), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("locked_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("log_id", sa.String(300), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("signed_us", sa.BigInteger, nullable=False),
        sa.Column("object_key", sa.String(1024), nullable=False),
        sa.Column("version_id", sa.String(1024), nullable=False),
        sa.Column("entries_key", sa.String(1024), nullable=True),
        sa.Column("entries_version_id", sa.String(1024), nullable=True),
    )
    _triggers_up()


def downgrade() -> None:
    _triggers_down()
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_lock")
    op.drop_table("audit_node")
    op.drop_index("ix_audit_event_action", table_name="audit_event")
    op.drop_index("ix_audit_event_actor", table_name="audit_event")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index("ix_api_token_user", table_name="api_token")
    op.drop_table("api_token")
    op.drop_table("api_user")
    op.drop_table("agency")
