"""Audit trail tables (SQLAlchemy Core; created by migration 0004, which they must match).

``audit_event`` holds the exact canonical bytes of every entry plus a few columns copied from
them for filtering (verification checks they agree with the bytes). ``audit_node`` holds the
perfect Merkle nodes of level >= 1 (the writer state - size, last hash, right edge - is
derived from these), ``audit_lock`` one row per log that every append updates first (so
appends from several processes are serialized by the database's own row or write lock),
``audit_checkpoint`` every signed checkpoint. Migration 0004 adds triggers that refuse
UPDATE and DELETE on ``audit_event``, ``audit_node`` and ``audit_checkpoint``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, SmallInteger, String, Table, Text
from sqlmodel import SQLModel

__all__ = ["CHECKPOINT", "EVENT", "LOCK", "NODE"]

_META = SQLModel.metadata

EVENT = Table(
    "audit_event",
    _META,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=True),
    Column("agency", String(64), nullable=True),
    Column("role", String(20), nullable=True),
    Column("client_ip", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("result", String(16), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("entry_hash", LargeBinary(32), nullable=False),
    Index("ix_audit_event_at", "at_us"),
    Index("ix_audit_event_actor", "actor", "seq"),
    Index("ix_audit_event_action", "action", "seq"),
)

NODE = Table(
    "audit_node",
    _META,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

LOCK = Table(
    "audit_lock",
    _META,
    Column("log_id", String(300), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("locked_us", BigInteger, nullable=False),
)

CHECKPOINT = Table(
    "audit_checkpoint",
    _META,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("log_id", String(300), nullable=False),
    Column("root", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_us", BigInteger, nullable=False),
    Column("object_key", String(1024), nullable=False),
    Column("version_id", String(1024), nullable=False),
    Column("entries_key", String(1024), nullable=True),
    Column("entries_version_id", String(1024), nullable=True),
)
