"""Catalog tables of retention and legal holds (sqlmodel; migration 0003). Times are integer
microseconds since the Unix epoch, UTC (``*_us``), as everywhere in the catalog.

- ``legal_hold`` / ``legal_hold_camera``: a hold on cameras x time range for a case, with the
  agency (or camera owner) that placed it (migration 0010); released (or expired) holds stay,
  with who released them and when.
- ``legal_hold_object``: object versions on which *this service* turned the S3 legal hold on;
  the hold sync diffs it against what the active holds cover.
- ``retention_camera_state``: the policy last applied to each camera (keep period, a pending
  shortening kept for older footage, lock extension progress).
- ``retention_audit``: hash-chained audit of policy changes, holds and deletions.
- ``job_lock``: a lease row per job name, so one executor runs at a time across processes.
- ``retention_run``: one row per executor run with its summary.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "AUDIT", "HOLD", "HOLD_CAMERA", "HOLD_OBJECT", "JOB_LOCK", "RUN", "STATE",
    "AuditRow", "HoldCameraRow", "HoldObjectRow", "HoldRow", "JobLockRow", "RetentionRunRow", "RetentionStateRow",
]  # fmt: skip

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrement needs INTEGER
KEY_LEN = 1024
RULE_LEN = 300


class HoldRow(SQLModel, table=True):
    """A legal hold: cameras (``legal_hold_camera``) x ``[start_us, end_us)``, until released or expired."""

    __tablename__ = "legal_hold"
    __table_args__ = (Index("ix_legal_hold_case", "case_id"), Index("ix_legal_hold_agency", "agency"))

    id: int | None = Field(default=None, sa_column=Column(_ID, primary_key=True, autoincrement=True))
    case_id: str = Field(sa_column=Column(String(128), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    start_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_role: str = Field(sa_column=Column(String(32), nullable=False))
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    agency: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    """The agency that placed the hold (None: placed by an owner, or before migration 0010)."""
    owner_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    """The camera owner that placed the hold (owner staff cannot today; kept for symmetry with users)."""
    released_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    released_role: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    released_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    release_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class HoldCameraRow(SQLModel, table=True):
    """One camera covered by a hold."""

    __tablename__ = "legal_hold_camera"
    __table_args__ = (Index("ix_legal_hold_camera_camera", "camera_id"),)

    hold_id: int = Field(sa_column=Column(_ID, ForeignKey("legal_hold.id"), primary_key=True, autoincrement=False))
    camera_id: str = Field(sa_column=Column(String(64), primary_key=True))


class HoldObjectRow(SQLModel, table=True):
    """An object version whose S3 legal hold this service turned on (segment ``camera_id``/``seq``)."""

    __tablename__ = "legal_hold_object"

    camera_id: str = Field(sa_column=Column(String(64), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    bucket: str = Field(sa_column=Column(String(63), nullable=False))
    object_key: str = Field(sa_column=Column(String(KEY_LEN), nullable=False))
    version_id: str = Field(sa_column=Column(String(KEY_LEN), nullable=False))
    applied_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class RetentionStateRow(SQLModel, table=True):
    """The retention rule last applied to a camera (see :mod:`archive.retention.reconcile`)."""

    __tablename__ = "retention_camera_state"

    camera_id: str = Field(sa_column=Column(String(64), primary_key=True))
    owner_id: str = Field(sa_column=Column(String(64), nullable=False))
    rule: str = Field(sa_column=Column(String(RULE_LEN), nullable=False))
    keep_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    legacy_rule: str | None = Field(default=None, sa_column=Column(String(RULE_LEN), nullable=True))
    legacy_keep_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    legacy_before_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    bypass_before_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    extend_from_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    updated_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class AuditRow(SQLModel, table=True):
    """One audit event; ``hash`` = SHA-256 over ``prev_hash`` and the canonical event (a chain)."""

    __tablename__ = "retention_audit"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    role: str = Field(sa_column=Column(String(32), nullable=False))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    subject: str = Field(sa_column=Column(String(RULE_LEN), nullable=False))
    detail: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))


class JobLockRow(SQLModel, table=True):
    """A lease: ``holder`` owns job ``name`` until ``expires_us`` (NULL holder: free)."""

    __tablename__ = "job_lock"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    holder: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    acquired_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    expires_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class RetentionRunRow(SQLModel, table=True):
    """One executor run: who ran it, when, how it ended, its summary (JSON)."""

    __tablename__ = "retention_run"

    id: int | None = Field(default=None, sa_column=Column(_ID, primary_key=True, autoincrement=True))
    started_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    finished_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    holder: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


HOLD = _table(HoldRow)
HOLD_CAMERA = _table(HoldCameraRow)
HOLD_OBJECT = _table(HoldObjectRow)
STATE = _table(RetentionStateRow)
AUDIT = _table(AuditRow)
JOB_LOCK = _table(JobLockRow)
RUN = _table(RetentionRunRow)
