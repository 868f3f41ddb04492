"""Catalog tables of evidence exports (SQLAlchemy Core; created by migration 0005, which they
must match). Times are integer microseconds since the Unix epoch, UTC.

- ``export_request``: one row per export: the request, its state, build progress, the package.
- ``export_camera``: the cameras of an export with their owner and the approval rule that
  applied at request time (``owner``, ``admin`` or ``policy``).
- ``export_decision``: one approval or refusal per camera owner of an export.
- ``export_custody``: the custody log (``archive-custody/1`` events, hash-chained); append-only
  (triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, LargeBinary, String, Table, Text
from sqlmodel import SQLModel

__all__ = ["CAMERA", "CUSTODY", "DECISION", "REQUEST"]

_META = SQLModel.metadata

REQUEST = Table(
    "export_request",
    _META,
    Column("id", String(32), primary_key=True),
    Column("case_id", String(128), nullable=False),
    Column("legal_basis", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_name", String(200), nullable=False),
    Column("requested_role", String(20), nullable=False),
    Column("requested_agency", String(64), nullable=True),
    Column("requested_us", BigInteger, nullable=False),
    Column("hold_id", BigInteger, nullable=True),
    Column("operator", String(64), nullable=True),
    Column("progress_done", BigInteger, nullable=False),
    Column("progress_total", BigInteger, nullable=False),
    Column("build_started_us", BigInteger, nullable=True),
    Column("build_finished_us", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Column("package_name", String(300), nullable=True),
    Column("package_path", Text, nullable=True),
    Column("package_sha256", String(64), nullable=True),
    Column("package_size", BigInteger, nullable=True),
    Column("manifest_sha256", String(64), nullable=True),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_export_request_status", "status"),
    Index("ix_export_request_case", "case_id"),
)

CAMERA = Table(
    "export_camera",
    _META,
    Column("export_id", String(32), ForeignKey("export_request.id"), primary_key=True),
    Column("camera_id", String(64), primary_key=True),
    Column("owner_id", String(64), nullable=False),
    Column("rule", String(16), nullable=False),
    Index("ix_export_camera_owner", "owner_id"),
)

DECISION = Table(
    "export_decision",
    _META,
    Column("export_id", String(32), ForeignKey("export_request.id"), primary_key=True),
    Column("owner_id", String(64), primary_key=True),
    Column("rule", String(16), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("origin", String(200), nullable=False),
)

CUSTODY = Table(
    "export_custody",
    _META,
    Column("export_id", String(32), ForeignKey("export_request.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event", String(32), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("hash", String(64), nullable=False),
)
