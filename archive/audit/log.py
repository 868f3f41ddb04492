"""Appending to the audit log: one entry (or one batch), one database transaction.

The writer state (size, hash of the last entry, right edge of the Merkle tree) is cached in
memory; the database stays the truth: every append updates ``audit_state`` with a
compare-and-set on the size, and on any mismatch (another process appended) the cache is
dropped, reloaded and the append retried. Appends in one process are serialized by a lock.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from archive.audit.entry import AuditRecord, encode
from archive.audit.tables import EVENT, NODE, STATE
from archive.errors import CatalogError, ConflictError
from archive.integrity import ZERO_HASH, CompactRange, WriterState

__all__ = ["AuditAppend", "AuditLog", "load_state"]

_RETRIES = 8


class _StaleError(Exception):
    """The stored state moved on under us."""


@dataclass(frozen=True)
class AuditAppend:
    """Where an appended record went."""

    seq: int
    entry_hash: bytes


def load_state(conn: Connection, origin: str) -> WriterState:
    """The stored writer state of the audit log ``origin`` (empty when none). Raises MalformedError."""
    row = conn.execute(select(STATE.c.state).where(STATE.c.log_id == origin)).first()
    if row is None:
        return WriterState(origin, 0, ZERO_HASH, ())
    return WriterState.from_dict(json.loads(row[0]))


class AuditLog:
    """The audit log of one origin (``<prefix>/audit``). Thread-safe."""

    def __init__(self, engine: Engine, origin: str, *, now_us: Callable[[], int] | None = None) -> None:
        self._engine = engine
        self.origin = origin
        self._now_us = now_us or (lambda: time.time_ns() // 1000)
        self._lock = threading.Lock()
        self._state: WriterState | None = None

    def append(self, record: AuditRecord) -> AuditAppend:
        """Append one record. Raises CatalogError (nothing written), ConflictError (the log kept
        changing under us), MalformedError (unencodable record)."""
        return self.append_many([record])[0]

    def append_many(self, records: Sequence[AuditRecord]) -> list[AuditAppend]:
        """Append records in order in ONE transaction (all or nothing). Raises like :meth:`append`."""
        if not records:
            return []
        with self._lock:
            for attempt in range(_RETRIES):
                try:
                    return self._append_once(records)
                except (_StaleError, DbIntegrityError, OperationalError) as exc:
                    self._state = None
                    if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
                        raise CatalogError(f"audit append failed, nothing was written: {exc}") from exc
                    time.sleep(0.002 * (attempt + 1))
                except SQLAlchemyError as exc:
                    self._state = None
                    raise CatalogError(f"audit append failed, nothing was written: {exc}") from exc
        raise ConflictError(f"audit log {self.origin} changed during {_RETRIES} append attempts")

    def _append_once(self, records: Sequence[AuditRecord]) -> list[AuditAppend]:
        with self._engine.begin() as conn:
            state = self._state if self._state is not None else load_state(conn, self.origin)
            tree = CompactRange(state.size, state.edge)
            last, old_size = state.last_hash, state.size
            rows, nodes, out = [], [], []
            for rec in records:
                seq = tree.size
                data = encode(rec, log=self.origin, seq=seq, prev=last)
                last = hashlib.sha256(data).digest()
                leaf = hashlib.sha256(b"\x00" + data).digest()
                nodes += [{"level": n.level, "idx": n.index, "hash": n.hash} for n in tree.append(leaf)]
                rows.append({"seq": seq, "at_us": rec.at_us, "actor": rec.actor, "agency": rec.agency,
                             "role": rec.role, "client_ip": rec.ip[:64], "action": rec.action[:64],
                             "result": rec.result.value, "status": rec.status, "data": data,
                             "leaf_hash": leaf, "entry_hash": last})  # fmt: skip
                out.append(AuditAppend(seq, last))
            conn.execute(insert(EVENT), rows)
            if nodes:
                conn.execute(insert(NODE), nodes)
            new = WriterState(self.origin, tree.size, last, tree.edge)
            self._save(conn, old_size, new)
        self._state = new
        return out

    def _save(self, conn: Connection, old_size: int, new: WriterState) -> None:
        doc = json.dumps(new.to_dict(), separators=(",", ":"))
        now = self._now_us()
        if old_size == 0:
            if conn.execute(select(STATE.c.size).where(STATE.c.log_id == self.origin)).first() is not None:
                raise _StaleError()
            conn.execute(insert(STATE).values(log_id=self.origin, size=new.size, state=doc, updated_us=now))
            return
        done = conn.execute(
            update(STATE).where((STATE.c.log_id == self.origin) & (STATE.c.size == old_size))
            .values(size=new.size, state=doc, updated_us=now)
        )  # fmt: skip
        if done.rowcount != 1:
            raise _StaleError()

    def size(self) -> int:
        """Number of entries. Raises CatalogError."""
        try:
            with self._engine.connect() as conn:
                return load_state(conn, self.origin).size
        except SQLAlchemyError as exc:
            raise CatalogError(f"cannot read the audit log state: {exc}") from exc
