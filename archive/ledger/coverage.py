"""Coverage pieces: the merged intervals of each camera's segments, kept at append time
(table ``coverage_piece``, migration 0015).

A camera's segments of one kind (media present, or pruned) whose start falls in one bucket of
:data:`BUCKET_US` are merged in start order exactly as the search merges them
(:func:`archive.search.intervals.merge`: a segment starting within :data:`TOLERANCE_US` of the
running maximum end joins the interval); each merged interval is one row with its latest start,
count and bytes. Every piece is therefore a run of consecutive segments in start order, so
merging pieces gives the same intervals as merging their segments (the search uses whole pieces
inside a range and the pieces' own segments at its edges: :mod:`archive.ledger.cover_index`).

The ledger keeps the table true in the transaction of each change to ``segment``: a segment
append extends its bucket's last piece (or adds one; a segment older than the bucket's latest
start rebuilds the bucket), a prune append rebuilds the buckets of the pruned seqs. The
migration builds it for an existing catalog with :func:`rebuild_all`.

``camera_latest`` holds each camera's segment with media whose end is the latest (ties: the first
logged): a segment append replaces it when it ends later, a prune of it looks the next one up. Functions take an open
connection and let :class:`sqlalchemy.exc.SQLAlchemyError` through (the caller's seam).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from sqlalchemy import Connection, and_, bindparam, delete, false, func, insert, select, update

from archive.ledger.repo import COVER, LATEST, SEGMENT

__all__ = ["BUCKET_US", "TOLERANCE_US", "Piece", "on_prune", "on_segment", "pieces", "rebuild", "rebuild_all"]

BUCKET_US: Final = 600_000_000
"""Width of a bucket (10 minutes): a range's edge reads at most a bucket of segments."""
TOLERANCE_US: Final = 500_000
"""Holes up to this long between consecutive segments count as continuous (SPEC.md 8.8)."""

Piece = list[int]
"""``[start_us, end_us, last_start_us, segments, bytes]`` of one merged interval."""

_LAST: Final = (
    select(COVER.c.start_us, COVER.c.end_us, COVER.c.last_start_us)
    .where(and_(COVER.c.camera_id == bindparam("c"), COVER.c.bucket == bindparam("b"),
                COVER.c.pruned == bindparam("p")))
    .order_by(COVER.c.start_us.desc())
    .limit(1)
)  # fmt: skip
_EXTEND: Final = (
    update(COVER)
    .where(and_(COVER.c.camera_id == bindparam("c"), COVER.c.bucket == bindparam("b"), COVER.c.pruned == bindparam("p"),
                COVER.c.start_us == bindparam("s")))
    .values(end_us=bindparam("e"), last_start_us=bindparam("ls"), segments=COVER.c.segments + 1,
            bytes=COVER.c.bytes + bindparam("z"))
)  # fmt: skip
_INSERT: Final = insert(COVER)
_LATER: Final = (
    update(LATEST)
    .where(and_(LATEST.c.camera_id == bindparam("c"), LATEST.c.end_us < bindparam("e")))
    .values(seq=bindparam("q"), start_us=bindparam("s"), end_us=bindparam("e"))
)  # fmt: skip
_HAS_LATEST: Final = select(LATEST.c.seq).where(LATEST.c.camera_id == bindparam("c"))


def pieces(spans: Iterable[tuple[int, int, int]], tol: int = TOLERANCE_US) -> list[Piece]:
    """The merged pieces of ``(start_us, end_us, size)`` spans sorted by start (one kind, one bucket)."""
    out: list[Piece] = []
    for s, e, z in spans:
        if out and s <= out[-1][1] + tol:
            last = out[-1]
            if e > last[1]:
                last[1] = e
            last[2] = s
            last[3] += 1
            last[4] += z
        else:
            out.append([s, e, s, 1, z])
    return out


def _rows(camera_id: str, bucket: int, pruned: bool, found: list[Piece]) -> list[dict[str, object]]:
    return [{"camera_id": camera_id, "bucket": bucket, "pruned": pruned, "start_us": p[0], "end_us": p[1],
             "last_start_us": p[2], "segments": p[3], "bytes": p[4]} for p in found]  # fmt: skip


def _grouped(rows: Iterable[tuple[int, int, bool, int]]) -> Iterator[tuple[int, bool, list[tuple[int, int, int]]]]:
    """``(bucket, pruned, spans)`` of segment rows ``(start, end, pruned, size)`` sorted by start."""
    groups: dict[tuple[int, bool], list[tuple[int, int, int]]] = {}
    for s, e, p, z in rows:
        groups.setdefault((s // BUCKET_US, bool(p)), []).append((int(s), int(e), int(z)))
    for (b, p), spans in sorted(groups.items()):
        yield b, p, spans


def rebuild(conn: Connection, camera_id: str, first_bucket: int, last_bucket: int) -> None:
    """Recompute the camera's pieces of buckets ``[first_bucket, last_bucket]`` from its segments."""
    conn.execute(delete(COVER).where(and_(COVER.c.camera_id == camera_id, COVER.c.bucket >= first_bucket,
                                          COVER.c.bucket <= last_bucket)))  # fmt: skip
    found = conn.execute(
        select(SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.pruned, SEGMENT.c.size)
        .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.start_us >= first_bucket * BUCKET_US,
                    SEGMENT.c.start_us < (last_bucket + 1) * BUCKET_US))
        .order_by(SEGMENT.c.start_us, SEGMENT.c.seq)
    ).all()  # fmt: skip
    rows = [r for b, p, spans in _grouped((int(r[0]), int(r[1]), bool(r[2]), int(r[3])) for r in found)
            for r in _rows(camera_id, b, p, pieces(spans))]  # fmt: skip
    if rows:
        conn.execute(_INSERT, rows)


def on_segment(conn: Connection, camera_id: str, seq: int, start_us: int, end_us: int, size: int) -> None:
    """Account a segment just inserted (media present) in its bucket's pieces and the camera's latest."""
    params = {"c": camera_id, "q": seq, "s": start_us, "e": end_us}
    if conn.execute(_LATER, params).rowcount == 0 and conn.execute(_HAS_LATEST, params).first() is None:
        conn.execute(insert(LATEST), {"camera_id": camera_id, "seq": seq, "start_us": start_us, "end_us": end_us})
    b = start_us // BUCKET_US
    last = conn.execute(_LAST, {"c": camera_id, "b": b, "p": False}).first()
    if last is not None and start_us < int(last[2]):  # older than the bucket's latest start: merge anew
        rebuild(conn, camera_id, b, b)
    elif last is not None and start_us <= int(last[1]) + TOLERANCE_US:
        conn.execute(_EXTEND, {"c": camera_id, "b": b, "p": False, "s": int(last[0]), "e": max(int(last[1]), end_us),
                               "ls": start_us, "z": size})  # fmt: skip
    else:
        conn.execute(_INSERT, _rows(camera_id, b, False, [[start_us, end_us, start_us, 1, size]]))


def on_prune(conn: Connection, camera_id: str, from_seq: int, to_seq: int) -> None:
    """Rebuild the buckets of the camera's segments with seq in ``[from_seq, to_seq)`` (just
    marked pruned)."""
    lo, hi = conn.execute(
        select(func.min(SEGMENT.c.start_us), func.max(SEGMENT.c.start_us))
        .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.seq >= from_seq, SEGMENT.c.seq < to_seq))
    ).one()  # fmt: skip
    if lo is not None:
        rebuild(conn, camera_id, int(lo) // BUCKET_US, int(hi) // BUCKET_US)
    held = conn.execute(_HAS_LATEST, {"c": camera_id}).first()
    if held is not None and from_seq <= int(held[0]) < to_seq:
        conn.execute(delete(LATEST).where(LATEST.c.camera_id == camera_id))
        nxt = conn.execute(
            select(SEGMENT.c.seq, SEGMENT.c.start_us, SEGMENT.c.end_us)
            .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.pruned == false()))
            .order_by(SEGMENT.c.end_us.desc(), SEGMENT.c.seq)
            .limit(1)
        ).first()  # fmt: skip
        if nxt is not None:
            conn.execute(insert(LATEST), {"camera_id": camera_id, "seq": int(nxt[0]), "start_us": int(nxt[1]),
                                          "end_us": int(nxt[2])})  # fmt: skip


def _all_rows(conn: Connection, batch: int, latest: dict[str, tuple[int, int, int]]) -> Iterator[dict[str, object]]:
    """The piece rows of every camera, from one pass over the segments in ``(camera_id, start_us)``
    order; fills ``latest`` (camera -> ``(end, -seq, start)`` of its latest segment with media)."""
    rows = conn.execute(
        select(SEGMENT.c.camera_id, SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.pruned, SEGMENT.c.size,
               SEGMENT.c.seq)
        .order_by(SEGMENT.c.camera_id, SEGMENT.c.start_us, SEGMENT.c.seq),
        execution_options={"stream_results": True, "yield_per": batch},
    )  # fmt: skip
    cam_of: str | None = None
    bucket: int | None = None
    group: list[tuple[int, int, bool, int, int]] = []
    for cam, start, end, pruned, size, seq in rows:  # per row only what must be: the pass is over every segment
        b = start // BUCKET_US
        if b != bucket or cam != cam_of:
            if cam_of is not None:
                yield from _group_rows(cam_of, group, latest)
            cam_of, bucket, group = str(cam), b, []
        group.append((start, end, pruned, size, seq))
    if cam_of is not None:
        yield from _group_rows(cam_of, group, latest)


def _group_rows(camera_id: str, group: list[tuple[int, int, bool, int, int]],
                latest: dict[str, tuple[int, int, int]]) -> Iterator[dict[str, object]]:  # fmt: skip
    """The piece rows of one camera's segments of one bucket (sorted by start); updates ``latest``."""
    live = [(int(e), -int(q), int(s)) for s, e, p, _z, q in group if not p]
    if live:
        best = max(live)
        if camera_id not in latest or best[:2] > latest[camera_id][:2]:
            latest[camera_id] = best
    for b, kind, spans in _grouped((int(s), int(e), bool(p), int(z)) for s, e, p, z, _q in group):
        yield from _rows(camera_id, b, kind, pieces(spans))


def rebuild_all(conn: Connection, batch: int = 20_000) -> int:
    """Empty the tables and build every camera's pieces and latest segment from its segments (the
    migration's backfill). Returns the number of pieces written."""
    conn.execute(delete(COVER))
    conn.execute(delete(LATEST))
    written, pending = 0, []
    latest: dict[str, tuple[int, int, int]] = {}
    for row in _all_rows(conn, batch, latest):
        pending.append(row)
        if len(pending) >= batch:
            conn.execute(_INSERT, pending)
            written += len(pending)
            pending = []
    if pending:
        conn.execute(_INSERT, pending)
        written += len(pending)
    if latest:
        conn.execute(insert(LATEST), [{"camera_id": c, "seq": -q, "start_us": s, "end_us": e}
                                      for c, (e, q, s) in latest.items()])  # fmt: skip
    return written
