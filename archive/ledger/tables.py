"""Catalog tables of recordings and per-camera evidence logs (sqlmodel; migration 0002).

Owned by :mod:`archive.ledger`, which is the only importer (an import-linter contract, "the ledger
owns its tables"): other packages ask the ledger's read modules (:mod:`archive.ledger.index`,
:mod:`archive.ledger.segment_rows`, :mod:`archive.ledger.evidence`) instead of querying these.
Times are integer microseconds since the Unix epoch, UTC (``*_us``), as in :mod:`archive.catalog.tables`.

- ``segment`` / ``gap``: the searchable index of what a camera recorded; every row is also an
  entry of the camera's log (``seq``), and verification compares the two.
- ``log_entry``: the exact canonical bytes of every entry (SPEC.md 3) with its leaf and entry
  hashes; ``log_node``: every perfect Merkle node of level >= 1 (SPEC.md 5), so proofs cost
  O(log N) lookups; ``log_state``: the writer state (size, last hash, right edge) to resume
  without rebuilding the tree, and the writer claim (holder, epoch) of its last append.
- ``writer_claim``: who may append to a camera's log (holder, epoch, expiry by the database clock;
  migration 0006). One row per camera, never deleted, so the epoch only grows.
- ``recorder_node``: the recorder nodes (name, capacity, heartbeat by the database clock, state,
  where its API is; migration 0013). No secrets.
- ``coverage_piece``: the merged intervals of a camera's segments per 10-minute bucket of their
  start and per kind (media present / pruned), with their counts and bytes, kept by every segment
  and prune append in the same transaction (migration 0015, :mod:`archive.ledger.coverage`), so
  a day's coverage reads a few hundred rows instead of every segment; ``camera_latest``: each
  camera's segment with media whose end is the latest (same migration and module), for the pages'
  status of hundreds of cameras in one read.
- ``log_checkpoint`` / ``log_cosignature``: signed tree heads and witness cosignatures.
- ``signing_key``: log signing keys; the private key only as SecretBox ciphertext.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "CameraLatestRow",
    "CoveragePieceRow",
    "GapRow",
    "LogCheckpointRow",
    "LogCosignatureRow",
    "LogEntryRow",
    "LogNodeRow",
    "LogStateRow",
    "RecorderNodeRow",
    "SegmentRow",
    "SigningKeyRow",
    "WriterClaimRow",
]

LOG_ID_LEN = 300
_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrement needs INTEGER
KEY_LEN = 1024
HOLDER_LEN = 255


class SegmentRow(SQLModel, table=True):
    """One stored media segment (object version) of a camera; ``seq`` is its log entry."""

    __tablename__ = "segment"
    __table_args__ = (
        UniqueConstraint("camera_id", "seq", name="uq_segment_camera_seq"),
        Index("ix_segment_camera_start", "camera_id", "start_us"),
        Index("ix_segment_camera_end", "camera_id", "end_us"),
        Index("ix_segment_camera_object", "camera_id", "object_key", "version_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(_ID, primary_key=True, autoincrement=True))
    camera_id: str = Field(sa_column=Column(String(64), nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    bucket: str = Field(sa_column=Column(String(63), nullable=False))
    object_key: str = Field(sa_column=Column(String(KEY_LEN), nullable=False))
    version_id: str = Field(sa_column=Column(String(KEY_LEN), nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    start_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    duration_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    clock_offset_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    camera_start_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    container: str = Field(sa_column=Column(String(64), nullable=False))
    codec: str = Field(sa_column=Column(String(64), nullable=False))
    width: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    height: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    keyframe_start: bool = Field(sa_column=Column(Boolean, nullable=False))
    partial: bool = Field(sa_column=Column(Boolean, nullable=False))
    pruned: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    ingested_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    meta: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class GapRow(SQLModel, table=True):
    """An interval of a camera without media, and why; ``seq`` is its log entry."""

    __tablename__ = "gap"
    __table_args__ = (
        UniqueConstraint("camera_id", "seq", name="uq_gap_camera_seq"),
        Index("ix_gap_camera_start", "camera_id", "start_us"),
    )

    id: int | None = Field(default=None, sa_column=Column(_ID, primary_key=True, autoincrement=True))
    camera_id: str = Field(sa_column=Column(String(64), nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    start_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(sa_column=Column(String(64), nullable=False))
    detail: str = Field(sa_column=Column(Text, nullable=False))


class CoveragePieceRow(SQLModel, table=True):
    """One merged interval of a camera's segments of one kind (``pruned``) whose start falls in
    ``bucket`` (``start_us // BUCKET_US``): ``[start_us, end_us)`` the union, ``last_start_us`` the
    latest start, ``segments`` and ``bytes`` their count and sizes (derived from ``segment``)."""

    __tablename__ = "coverage_piece"

    camera_id: str = Field(sa_column=Column(String(64), primary_key=True))
    bucket: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    pruned: bool = Field(sa_column=Column(Boolean, primary_key=True))
    start_us: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    end_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_start_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    segments: int = Field(sa_column=Column(BigInteger, nullable=False))
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))


class CameraLatestRow(SQLModel, table=True):
    """A camera's segment with media (not pruned) whose end is the latest: its ``seq``, start and
    end. No row: the camera has no segment with media (derived from ``segment``)."""

    __tablename__ = "camera_latest"

    camera_id: str = Field(sa_column=Column(String(64), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    start_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class LogEntryRow(SQLModel, table=True):
    """One log entry: its exact canonical bytes (``data``), leaf hash and entry hash."""

    __tablename__ = "log_entry"
    __table_args__ = (Index("ix_log_entry_kind", "log_id", "kind", "seq"),)

    log_id: str = Field(sa_column=Column(String(LOG_ID_LEN), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    entry_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class LogNodeRow(SQLModel, table=True):
    """A perfect Merkle node ``(level >= 1, idx)`` covering leaves ``[idx*2^level, (idx+1)*2^level)``."""

    __tablename__ = "log_node"

    log_id: str = Field(sa_column=Column(String(LOG_ID_LEN), primary_key=True))
    level: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class LogStateRow(SQLModel, table=True):
    """Writer state of one log (``state`` = WriterState JSON); ``key_id``: log key in effect."""

    __tablename__ = "log_state"
    __table_args__ = (Index("ix_log_state_camera", "camera_id"),)

    log_id: str = Field(sa_column=Column(String(LOG_ID_LEN), primary_key=True))
    camera_id: str = Field(sa_column=Column(String(64), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: str = Field(sa_column=Column(Text, nullable=False))
    key_id: str = Field(sa_column=Column(String(8), nullable=False))
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    writer_holder: str | None = Field(default=None, sa_column=Column(String(HOLDER_LEN), nullable=True))
    writer_epoch: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class WriterClaimRow(SQLModel, table=True):
    """The writer claim of one camera's log: ``holder`` may append while it is the current claim;
    ``expires_us`` (database clock) says when another holder may take it over with ``epoch + 1``."""

    __tablename__ = "writer_claim"

    camera_id: str = Field(sa_column=Column(String(64), primary_key=True))
    holder: str = Field(sa_column=Column(String(HOLDER_LEN), nullable=False))
    epoch: int = Field(sa_column=Column(BigInteger, nullable=False))
    claimed_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    renewed_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class RecorderNodeRow(SQLModel, table=True):
    """One recorder node (``archive up --node NAME``): live while ``heartbeat_us`` (database clock)
    is within its ``lease_ttl_us``; ``state`` running, draining or stopped; ``api`` where its API
    listens (host:port, never a credential); ``holder`` the writer-claim holder of its process."""

    __tablename__ = "recorder_node"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    capacity: float = Field(sa_column=Column(Float, nullable=False))
    started_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    heartbeat_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    lease_ttl_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    api: str = Field(sa_column=Column(String(255), nullable=False))
    holder: str = Field(sa_column=Column(String(HOLDER_LEN), nullable=False))


class LogCheckpointRow(SQLModel, table=True):
    """A signed checkpoint and where its note and entry batch are stored (log bucket)."""

    __tablename__ = "log_checkpoint"

    log_id: str = Field(sa_column=Column(String(LOG_ID_LEN), primary_key=True))
    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: str = Field(sa_column=Column(String(64), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    signed_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    object_key: str = Field(sa_column=Column(String(KEY_LEN), nullable=False))
    version_id: str = Field(sa_column=Column(String(KEY_LEN), nullable=False))
    entries_key: str | None = Field(default=None, sa_column=Column(String(KEY_LEN), nullable=True))
    entries_version_id: str | None = Field(default=None, sa_column=Column(String(KEY_LEN), nullable=True))


class LogCosignatureRow(SQLModel, table=True):
    """A witness cosignature line (C2SP tlog-cosignature) on a stored checkpoint."""

    __tablename__ = "log_cosignature"

    log_id: str = Field(sa_column=Column(String(LOG_ID_LEN), primary_key=True))
    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str = Field(sa_column=Column(String(255), primary_key=True))
    key_id: str = Field(sa_column=Column(String(8), primary_key=True))
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    line: str = Field(sa_column=Column(Text, nullable=False))
    added_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class SigningKeyRow(SQLModel, table=True):
    """A log signing key: public verifier key, private key encrypted with the SecretBox."""

    __tablename__ = "signing_key"

    name: str = Field(sa_column=Column(String(255), primary_key=True))
    key_id: str = Field(sa_column=Column(String(8), primary_key=True))
    verifier_key: str = Field(sa_column=Column(Text, nullable=False))
    private_enc: str = Field(sa_column=Column(Text, nullable=False))
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    retired_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
