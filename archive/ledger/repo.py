"""Persistence of the evidence logs: SQL (Core) over the tables of :mod:`archive.ledger.tables`.

Functions take an open :class:`~sqlalchemy.Connection`; the caller owns the transaction, so an
append (entry + nodes + writer state + segment/gap row) commits as one unit. Core statements
instead of ORM objects: the append path is hot and ORM object building dominates (MEASUREMENTS.md).
Every function lets :class:`sqlalchemy.exc.SQLAlchemyError` through; callers translate it in the one
seam, :func:`archive.catalog.errors.catalog_errors`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, Insert, Table, Update, and_, bindparam, func, insert, select, update
from sqlmodel import SQLModel

from archive.integrity import Appended, Node, TreeHashes, WriterState
from archive.ledger import tables  # noqa: F401  (registers the tables in SQLModel.metadata)
from archive.ledger.claims import WriterClaim

__all__ = [
    "CHECKPOINT",
    "COSIGNATURE",
    "COVER",
    "ENTRY",
    "GAP",
    "LATEST",
    "NODE",
    "SEGMENT",
    "SIGNING_KEY",
    "STATE",
    "EntryRecord",
    "LogStateRecord",
    "StaleStateError",
    "hash_source",
    "insert_append",
    "iter_entries",
    "leaf_hashes",
    "load_state",
    "node_hash_at",
]


def _t(name: str) -> Table:
    return SQLModel.metadata.tables[name]


SEGMENT = _t("segment")
GAP = _t("gap")
COVER = _t("coverage_piece")
LATEST = _t("camera_latest")
ENTRY = _t("log_entry")
NODE = _t("log_node")
STATE = _t("log_state")
CHECKPOINT = _t("log_checkpoint")
COSIGNATURE = _t("log_cosignature")
SIGNING_KEY = _t("signing_key")


class StaleStateError(Exception):
    """The stored writer state is not the one the append started from (another writer, or a
    restore from backup). Internal: the service reloads the state from the database."""


@dataclass(frozen=True)
class LogStateRecord:
    """A ``log_state`` row, parsed."""

    log_id: str
    camera_id: str
    state: WriterState
    key_id: str
    updated_us: int

    @property
    def size(self) -> int:
        """Number of entries."""
        return self.state.size


@dataclass(frozen=True)
class EntryRecord:
    """A ``log_entry`` row."""

    seq: int
    kind: str
    data: bytes
    leaf_hash: bytes
    entry_hash: bytes


def load_state(conn: Connection, log_id: str) -> LogStateRecord | None:
    """The stored writer state of a log, or None if it has no entries yet.

    Raises:
        MalformedError: the stored state JSON is invalid (integrity error: report it).
    """
    row = conn.execute(select(STATE).where(STATE.c.log_id == log_id)).mappings().first()
    if row is None:
        return None
    return _state(row)


def _state(row: object) -> LogStateRecord:
    r = dict(row)  # type: ignore[call-overload]
    state = WriterState.from_dict(json.loads(r["state"]))
    return LogStateRecord(r["log_id"], r["camera_id"], state, r["key_id"], r["updated_us"])


def all_states(conn: Connection, camera_id: str | None = None) -> list[LogStateRecord]:
    """Every log's state (optionally of one camera), by log id."""
    stmt = select(STATE).order_by(STATE.c.log_id)
    if camera_id is not None:
        stmt = stmt.where(STATE.c.camera_id == camera_id)
    return [_state(r) for r in conn.execute(stmt).mappings()]


# The statements of the append path, built once and executed with parameters: building and
# cache-keying a Core statement on every call cost more CPU than running it (profiled: about half
# of an append's CPU).
_INSERT_ENTRY: Final[Insert] = insert(ENTRY)
_INSERT_NODE: Final[Insert] = insert(NODE)
# The head row also carries the writer claim (holder, epoch) of the last append; an append never
# moves the head back to an older epoch (claimless maintenance appends keep the stored claim).
_UPDATE_STATE: Final[Update] = (
    update(STATE)
    .where(and_(STATE.c.log_id == bindparam("b_log_id"), STATE.c.size == bindparam("b_old_size"),
                func.coalesce(STATE.c.writer_epoch, 0)
                <= func.coalesce(bindparam("b_writer_epoch"), STATE.c.writer_epoch, 0)))
    .values(size=bindparam("b_size"), state=bindparam("b_state"), key_id=bindparam("b_key_id"),
            updated_us=bindparam("b_updated_us"),
            writer_holder=func.coalesce(bindparam("b_writer_holder"), STATE.c.writer_holder),
            writer_epoch=func.coalesce(bindparam("b_writer_epoch"), STATE.c.writer_epoch))
)  # fmt: skip


def insert_append(
    conn: Connection,
    *,
    log_id: str,
    camera_id: str,
    appended: Appended,
    state: WriterState,
    key_id: str,
    now_us: int,
    writer: WriterClaim | None = None,
) -> None:
    """Store one appended entry, the nodes it completed and the new writer state.

    The state row is updated only if it still has size ``appended.seq`` and no later writer epoch
    than ``writer``'s (compare-and-set); it then records ``writer`` as the claim of the last append.

    Raises:
        StaleStateError: the stored state moved on (or back) meanwhile.
        sqlalchemy.exc.IntegrityError: the seq already exists (another writer won).
    """
    seq = appended.seq
    conn.execute(
        _INSERT_ENTRY,
        {
            "log_id": log_id,
            "seq": seq,
            "kind": appended.entry.kind,
            "data": appended.data,
            "leaf_hash": appended.leaf_hash,
            "entry_hash": appended.entry_hash,
        },
    )
    if appended.nodes:
        conn.execute(
            _INSERT_NODE,
            [{"log_id": log_id, "level": n.level, "idx": n.index, "hash": n.hash} for n in appended.nodes],
        )
    _save_state(conn, log_id=log_id, camera_id=camera_id, old_size=seq, state=state, key_id=key_id, now_us=now_us,
                writer=writer)  # fmt: skip


def _save_state(
    conn: Connection, *, log_id: str, camera_id: str, old_size: int, state: WriterState, key_id: str, now_us: int,
    writer: WriterClaim | None,
) -> None:
    doc = json.dumps(state.to_dict(), separators=(",", ":"))
    if old_size == 0:
        exists = conn.execute(select(STATE.c.size).where(STATE.c.log_id == log_id)).first()
        if exists is not None:
            raise StaleStateError(f"log {log_id} already has {exists[0]} entries")
        conn.execute(
            insert(STATE).values(
                log_id=log_id, camera_id=camera_id, size=state.size, state=doc, key_id=key_id,
                created_us=now_us, updated_us=now_us,
                writer_holder=None if writer is None else writer.holder,
                writer_epoch=None if writer is None else writer.epoch,
            )
        )  # fmt: skip
        return
    done = conn.execute(
        _UPDATE_STATE,
        {"b_log_id": log_id, "b_old_size": old_size, "b_size": state.size, "b_state": doc, "b_key_id": key_id,
         "b_updated_us": now_us, "b_writer_holder": None if writer is None else writer.holder,
         "b_writer_epoch": None if writer is None else writer.epoch},
    )  # fmt: skip
    if done.rowcount != 1:
        raise StaleStateError(f"log {log_id}: stored state is not at size {old_size} (or has a later writer epoch)")


def leaf_hashes(conn: Connection, log_id: str, lo: int, hi: int) -> list[bytes]:
    """Stored leaf hashes of seqs ``[lo, hi)`` in order (fewer if rows are missing)."""
    rows = conn.execute(
        select(ENTRY.c.leaf_hash)
        .where(and_(ENTRY.c.log_id == log_id, ENTRY.c.seq >= lo, ENTRY.c.seq < hi))
        .order_by(ENTRY.c.seq)
    )
    return [bytes(r[0]) for r in rows]


def node_hash_at(conn: Connection, log_id: str, level: int, idx: int) -> bytes | None:
    """The stored perfect node ``(level, idx)`` (level >= 1), or None."""
    if level < 1:
        return None
    row = conn.execute(
        select(NODE.c.hash).where(and_(NODE.c.log_id == log_id, NODE.c.level == level, NODE.c.idx == idx))
    ).first()
    return None if row is None else bytes(row[0])


def hash_source(conn: Connection, log_id: str) -> TreeHashes:
    """A :class:`TreeHashes` over the stored leaves and nodes of a log: O(log N) lookups per
    subtree hash. Errors surface when proofs are generated (MalformedError for missing rows)."""
    return TreeHashes(
        lambda lo, hi: leaf_hashes(conn, log_id, lo, hi),
        lambda level, idx: node_hash_at(conn, log_id, level, idx),
    )


def iter_entries(conn: Connection, log_id: str, lo: int = 0, hi: int | None = None, *, batch: int = 5000) -> Iterator[
    EntryRecord
]:
    """Stored entries with ``lo <= seq < hi`` in seq order, fetched in batches (missing seqs
    are simply absent: callers check density)."""
    cursor = lo
    while hi is None or cursor < hi:
        cond = and_(ENTRY.c.log_id == log_id, ENTRY.c.seq >= cursor)
        if hi is not None:
            cond = and_(cond, ENTRY.c.seq < hi)
        rows = conn.execute(
            select(ENTRY.c.seq, ENTRY.c.kind, ENTRY.c.data, ENTRY.c.leaf_hash, ENTRY.c.entry_hash)
            .where(cond)
            .order_by(ENTRY.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        for r in rows:
            yield EntryRecord(int(r[0]), str(r[1]), bytes(r[2]), bytes(r[3]), bytes(r[4]))
        cursor = int(rows[-1][0]) + 1


def entries_of_kind(conn: Connection, log_id: str, kind: str, hi: int | None = None) -> list[EntryRecord]:
    """Every stored entry of one kind (e.g. ``key``, ``prune``) with seq below ``hi``."""
    cond = and_(ENTRY.c.log_id == log_id, ENTRY.c.kind == kind)
    if hi is not None:
        cond = and_(cond, ENTRY.c.seq < hi)
    rows = conn.execute(
        select(ENTRY.c.seq, ENTRY.c.kind, ENTRY.c.data, ENTRY.c.leaf_hash, ENTRY.c.entry_hash)
        .where(cond)
        .order_by(ENTRY.c.seq)
    )
    return [EntryRecord(int(r[0]), str(r[1]), bytes(r[2]), bytes(r[3]), bytes(r[4])) for r in rows]


def entry_count(conn: Connection, log_id: str) -> tuple[int, int | None]:
    """``(number of stored entries, highest seq or None)``."""
    row = conn.execute(select(func.count(), func.max(ENTRY.c.seq)).where(ENTRY.c.log_id == log_id)).one()
    return int(row[0]), None if row[1] is None else int(row[1])


def nodes_between(conn: Connection, log_id: str, level: int, lo_idx: int, hi_idx: int) -> dict[int, bytes]:
    """Stored nodes of one level with ``lo_idx <= idx < hi_idx``."""
    rows = conn.execute(
        select(NODE.c.idx, NODE.c.hash).where(
            and_(NODE.c.log_id == log_id, NODE.c.level == level, NODE.c.idx >= lo_idx, NODE.c.idx < hi_idx)
        )
    )
    return {int(r[0]): bytes(r[1]) for r in rows}


def completed_nodes(nodes: Sequence[Node]) -> dict[tuple[int, int], bytes]:
    """``{(level, idx): hash}`` of appended nodes (for comparisons)."""
    return {(n.level, n.index): n.hash for n in nodes}


@dataclass(frozen=True)
class CheckpointRecord:
    """A ``log_checkpoint`` row."""

    log_id: str
    size: int
    root: str
    note: str
    signed_us: int
    object_key: str
    version_id: str
    entries_key: str | None
    entries_version_id: str | None


def _checkpoint(row: object) -> CheckpointRecord:
    r = dict(row)  # type: ignore[call-overload]
    return CheckpointRecord(
        r["log_id"], int(r["size"]), r["root"], r["note"], int(r["signed_us"]), r["object_key"],
        r["version_id"], r["entries_key"], r["entries_version_id"],
    )  # fmt: skip


def latest_checkpoint(conn: Connection, log_id: str) -> CheckpointRecord | None:
    """The stored checkpoint of the largest size, or None."""
    row = conn.execute(
        select(CHECKPOINT).where(CHECKPOINT.c.log_id == log_id).order_by(CHECKPOINT.c.size.desc()).limit(1)
    ).mappings().first()
    return None if row is None else _checkpoint(row)


def checkpoint_at(conn: Connection, log_id: str, size: int) -> CheckpointRecord | None:
    """The stored checkpoint of ``size``, or None."""
    row = conn.execute(
        select(CHECKPOINT).where(and_(CHECKPOINT.c.log_id == log_id, CHECKPOINT.c.size == size))
    ).mappings().first()
    return None if row is None else _checkpoint(row)


def checkpoints(conn: Connection, log_id: str) -> list[CheckpointRecord]:
    """Every stored checkpoint of a log, by size."""
    rows = conn.execute(select(CHECKPOINT).where(CHECKPOINT.c.log_id == log_id).order_by(CHECKPOINT.c.size))
    return [_checkpoint(r) for r in rows.mappings()]


def insert_checkpoint(conn: Connection, rec: CheckpointRecord) -> None:
    """Store a checkpoint row. Raises sqlalchemy IntegrityError if that size exists."""
    conn.execute(insert(CHECKPOINT).values(**rec.__dict__))


def cosignature_lines(conn: Connection, log_id: str, size: int) -> list[str]:
    """Stored witness cosignature lines (without newline) of one checkpoint, by name."""
    rows = conn.execute(
        select(COSIGNATURE.c.line)
        .where(and_(COSIGNATURE.c.log_id == log_id, COSIGNATURE.c.size == size))
        .order_by(COSIGNATURE.c.name, COSIGNATURE.c.key_id)
    )
    return [str(r[0]) for r in rows]


def pending_logs(conn: Connection) -> list[tuple[str, str, int, int]]:
    """``(log_id, camera_id, size, last checkpoint size or 0)`` of every log with entries
    newer than its last stored checkpoint."""
    last = (
        select(CHECKPOINT.c.log_id, func.max(CHECKPOINT.c.size).label("signed"))
        .group_by(CHECKPOINT.c.log_id)
        .subquery()
    )
    rows = conn.execute(
        select(STATE.c.log_id, STATE.c.camera_id, STATE.c.size, func.coalesce(last.c.signed, 0))
        .select_from(STATE.outerjoin(last, last.c.log_id == STATE.c.log_id))
        .where(STATE.c.size > func.coalesce(last.c.signed, 0))
        .order_by(STATE.c.log_id)
    )
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]
