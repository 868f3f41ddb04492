"""Appending to the audit log: one entry (or one batch), one database transaction.

The writer state (size, hash of the last entry, right edge of the Merkle tree) is cached in
memory and derived from the stored rows when needed: the size and last hash from the newest
entry, the edge from the stored perfect nodes (and one leaf). An append first updates the
log's ``audit_lock`` row - a write as the transaction's first statement takes SQLite's write
lock (waiting up to its busy timeout) or PostgreSQL's row lock, so appends from several
processes are serialized by the database - then checks the newest seq against the cached
size (re-deriving the state if another process appended), inserts the entries and the nodes
they complete, and commits. The primary key on ``seq`` stays the last guard. Appends in one
process are serialized by a Python lock.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update

from archive.audit.entry import AuditRecord, encode
from archive.audit.tables import EVENT, LOCK, NODE
from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, CatalogError, CatalogUnavailableError, ConflictError
from archive.integrity import ZERO_HASH, CompactRange, WriterState
from archive.integrity.errors import MalformedError

__all__ = ["AuditAppend", "AuditLog", "GroupCommit", "edge_addresses", "load_state"]

_RETRIES = 8
_HOLDER = f"{socket.gethostname()}:{os.getpid()}"[:200]


@dataclass(frozen=True)
class AuditAppend:
    """Where an appended record went."""

    seq: int
    entry_hash: bytes


def edge_addresses(size: int) -> list[tuple[int, int]]:
    """``(level, index)`` of the right-edge perfect subtrees of a tree of ``size`` leaves, largest first."""
    out, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def load_state(conn: Connection, origin: str) -> WriterState:
    """The writer state derived from the stored rows (empty log: size 0).

    Raises:
        MalformedError: a node or leaf of the right edge is missing (the log is damaged).
    """
    last = conn.execute(select(EVENT.c.seq, EVENT.c.entry_hash).order_by(EVENT.c.seq.desc()).limit(1)).first()
    if last is None:
        return WriterState(origin, 0, ZERO_HASH, ())
    size = int(last[0]) + 1
    addrs = edge_addresses(size)
    found: dict[tuple[int, int], bytes] = {}
    nodes = [a for a in addrs if a[0] > 0]
    if nodes:
        cond = or_(*(and_(NODE.c.level == lv, NODE.c.idx == ix) for lv, ix in nodes))
        found.update({(int(r[0]), int(r[1])): bytes(r[2]) for r in conn.execute(
            select(NODE.c.level, NODE.c.idx, NODE.c.hash).where(cond))})  # fmt: skip
    if addrs[-1][0] == 0:
        leaf = conn.execute(select(EVENT.c.leaf_hash).where(EVENT.c.seq == addrs[-1][1])).first()
        if leaf is not None:
            found[addrs[-1]] = bytes(leaf[0])
    missing = [a for a in addrs if a not in found]
    if missing:
        raise MalformedError(f"audit log {origin}: right-edge nodes {missing} of size {size} are missing")
    return WriterState(origin, size, bytes(last[1]), tuple(found[a] for a in addrs))


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
                    with catalog_errors("audit append failed, nothing was written"):
                        return self._append_once(records)
                except CatalogError as exc:
                    self._state = None
                    retry = isinstance(exc, CatalogConflictError) or (
                        isinstance(exc, CatalogUnavailableError) and "locked" in str(exc.__cause__).lower()
                    )
                    if not retry:
                        raise
                    time.sleep(0.002 * (attempt + 1))
        raise ConflictError(f"audit log {self.origin} changed during {_RETRIES} append attempts")

    def _take_lock(self, conn: Connection) -> int:
        """Lock the log (first statement of the transaction); returns the stored size (one round trip)."""
        now = self._now_us()
        top = select(func.max(EVENT.c.seq)).scalar_subquery()
        row = conn.execute(update(LOCK).where(LOCK.c.log_id == self.origin).values(holder=_HOLDER, locked_us=now)
                           .returning(top)).first()  # fmt: skip
        if row is None:
            conn.execute(insert(LOCK).values(log_id=self.origin, holder=_HOLDER, locked_us=now))
            row = conn.execute(select(top)).first()
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def append_in(self, conn: Connection, records: Sequence[AuditRecord]) -> list[AuditAppend]:
        """Append records inside the caller's transaction ``conn``: they commit or roll back with
        the caller's change (an action never takes effect without its record). The log's lock row
        is taken here and held until the caller's transaction ends. The cached writer state is
        never taken from or given to this call (the caller may still roll back; a cached state is
        re-derived when the stored size moved), so no Python lock is held while the caller's
        transaction waits. Raises SQLAlchemyError (the caller's transaction fails), MalformedError.
        """
        return self._write(conn, records, None)[0]

    def _append_once(self, records: Sequence[AuditRecord]) -> list[AuditAppend]:
        with self._engine.begin() as conn:
            out, new = self._write(conn, records, self._state)
        self._state = new
        return out

    def _write(self, conn: Connection, records: Sequence[AuditRecord],
               state: WriterState | None) -> tuple[list[AuditAppend], WriterState]:  # fmt: skip
        stored = self._take_lock(conn)
        if state is not None and stored != state.size:
            state = None  # another process appended
        if state is None:
            state = load_state(conn, self.origin)
        tree = CompactRange(state.size, state.edge)
        last = state.last_hash
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
        return out, new

    def size(self) -> int:
        """Number of entries (one indexed lookup). Raises CatalogError."""
        with catalog_errors("cannot read the audit log"), self._engine.connect() as conn:
            top = conn.execute(select(func.max(EVENT.c.seq))).scalar()
        return 0 if top is None else int(top) + 1


class _Pending:
    __slots__ = ("error", "record", "result")

    def __init__(self, record: AuditRecord) -> None:
        self.record = record
        self.result: AuditAppend | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Concurrent :meth:`append` calls share one transaction (group commit, leader/follower).

    Each caller queues its record and takes the commit lock; whoever holds it commits every
    queued record at once, so under load N requests cost one transaction, while a lone caller
    commits alone. A caller returns only once its own record is committed (or raises the
    batch's error): nothing is acknowledged before it is stored, and (with ``after_commit``)
    before that hook ran once for the batch, given the log's size after it (the trail seals
    through that size there).
    """

    def __init__(self, log: AuditLog, max_batch: int = 512,
                 after_commit: Callable[[int], object] | None = None) -> None:  # fmt: skip
        self.log = log
        self._max = max_batch
        self._after = after_commit
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def append(self, record: AuditRecord) -> AuditAppend:
        """Append ``record`` (possibly with others). Raises like :meth:`AuditLog.append_many`."""
        mine = _Pending(record)
        with self._queue_lock:
            self._queue.append(mine)
        while mine.result is None and mine.error is None:
            with self._commit_lock:
                if mine.result is not None or mine.error is not None:
                    break
                with self._queue_lock:
                    batch, self._queue = self._queue[: self._max], self._queue[self._max :]
                try:
                    done = self.log.append_many([p.record for p in batch])
                    if self._after is not None:  # e.g. sign the head: the batch is covered before anyone returns
                        self._after(done[-1].seq + 1)
                except BaseException as exc:
                    for p in batch:
                        p.error = exc
                else:
                    for p, r in zip(batch, done, strict=True):
                        p.result = r
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result
