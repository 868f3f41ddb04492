"""The searchable index of what a camera recorded: read queries over the ledger's ``segment`` and
``gap`` rows for search, playback and export requests (the ledger owns those tables).

A segment overlaps ``[lo, hi)`` when ``start < hi`` and ``end > lo``. To use the index
``segment(camera_id, start_us)`` the scan starts at ``lo - MAX_SEGMENT_US`` (segments are 2-60 s
long by configuration; the bound leaves a wide margin). Functions taking a connection let
:class:`sqlalchemy.exc.SQLAlchemyError` through (the caller's seam translates it); those taking an
engine raise :class:`~archive.errors.CatalogError`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, case, func, select, union_all

from archive.catalog.errors import catalog_errors
from archive.ledger.repo import GAP, SEGMENT

__all__ = [
    "MAX_SEGMENT_US", "Island", "LocationRow", "covered_interval", "gap_rows", "islands", "segment_location",
    "segment_locations",
]

MAX_SEGMENT_US = 15 * 60 * 1_000_000
"""Longest segment the overlap search allows for (segments are 2-60 s by configuration)."""

Island = tuple[int, int, bool, int, int]
"""``(start_us, end_us, pruned, segments, bytes)``, unclipped."""

LocationRow = tuple[Any, ...]
"""``(camera_id, seq, bucket, object_key, version_id, sha256, size, start_us, end_us, duration_us,
container, codec, width, height, partial, pruned)`` of one segment."""

_LOCATION = (SEGMENT.c.camera_id, SEGMENT.c.seq, SEGMENT.c.bucket, SEGMENT.c.object_key, SEGMENT.c.version_id,
             SEGMENT.c.sha256, SEGMENT.c.size, SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.duration_us,
             SEGMENT.c.container, SEGMENT.c.codec, SEGMENT.c.width, SEGMENT.c.height, SEGMENT.c.partial,
             SEGMENT.c.pruned)  # fmt: skip


def _overlap(camera_id: str, lo: int, hi: int) -> ColumnElement[bool]:
    """Segments of ``camera_id`` overlapping ``[lo, hi)``, in a form that uses the
    ``(camera_id, start_us)`` index: ``start`` in ``[lo - MAX_SEGMENT_US, hi)`` and ``end > lo``."""
    return and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.start_us >= lo - MAX_SEGMENT_US,
                SEGMENT.c.start_us < hi, SEGMENT.c.end_us > lo)  # fmt: skip


def gap_rows(conn: Connection, camera_id: str, lo: int, hi: int) -> list[tuple[int, int, int, str, str]]:
    """``(seq, start_us, end_us, reason, detail)`` of the gap entries overlapping ``[lo, hi)``, by start."""
    rows = conn.execute(
        select(GAP.c.seq, GAP.c.start_us, GAP.c.end_us, GAP.c.reason, GAP.c.detail)
        .where(and_(GAP.c.camera_id == camera_id, GAP.c.start_us < hi, GAP.c.end_us > lo))
        .order_by(GAP.c.start_us, GAP.c.seq)
    )
    return [(int(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[4])) for r in rows]


def islands(conn: Connection, camera_id: str, lo: int, hi: int, tol: int) -> list[Island]:
    """The islands of the camera's segments overlapping ``[lo, hi)``, by start, computed inside
    the database (window functions; SQLite >= 3.28, PostgreSQL): consecutive segments of one kind
    (media present, or pruned) whose start is within ``tol`` of the running maximum end before
    them form one island."""
    order = (SEGMENT.c.start_us, SEGMENT.c.seq)
    prev_end = func.max(SEGMENT.c.end_us).over(partition_by=SEGMENT.c.pruned, order_by=order, rows=(None, -1))
    base = (
        select(SEGMENT.c.start_us.label("s"), SEGMENT.c.end_us.label("e"), SEGMENT.c.pruned.label("p"),
               SEGMENT.c.size.label("z"), SEGMENT.c.seq.label("q"),
               case((SEGMENT.c.start_us > prev_end + tol, 1), else_=0).label("brk"))
        .where(_overlap(camera_id, lo, hi))
        .subquery()
    )  # fmt: skip
    grp = func.sum(base.c.brk).over(partition_by=base.c.p, order_by=(base.c.s, base.c.q), rows=(None, 0))
    numbered = select(base.c.s, base.c.e, base.c.p, base.c.z, grp.label("g")).subquery()
    stmt = (
        select(func.min(numbered.c.s), func.max(numbered.c.e), numbered.c.p, func.count(), func.sum(numbered.c.z))
        .group_by(numbered.c.p, numbered.c.g)
        .order_by(func.min(numbered.c.s))
    )
    return [(int(r[0]), int(r[1]), bool(r[2]), int(r[3]), int(r[4] or 0)) for r in conn.execute(stmt).all()]


def segment_location(conn: Connection, camera_id: str, seq: int) -> LocationRow | None:
    """The :data:`LocationRow` of the segment logged as entry ``seq`` of the camera, or None."""
    row = conn.execute(select(*_LOCATION).where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.seq == seq)))
    found = row.first()
    return None if found is None else tuple(found)


def segment_locations(conn: Connection, camera_id: str, lo: int, hi: int, limit: int) -> list[LocationRow]:
    """Up to ``limit`` :data:`LocationRow` of the segments overlapping ``[lo, hi)``, by start."""
    rows = conn.execute(select(*_LOCATION).where(_overlap(camera_id, lo, hi))
                        .order_by(SEGMENT.c.start_us, SEGMENT.c.seq).limit(limit))  # fmt: skip
    return [tuple(r) for r in rows]


def covered_interval(engine: Engine, camera_id: str) -> tuple[int | None, int | None]:
    """The first start and last end over the camera's segments and gaps (None, None: no entry yet).
    Raises CatalogError."""
    both = union_all(
        select(SEGMENT.c.start_us.label("s"), SEGMENT.c.end_us.label("e")).where(SEGMENT.c.camera_id == camera_id),
        select(GAP.c.start_us.label("s"), GAP.c.end_us.label("e")).where(GAP.c.camera_id == camera_id),
    ).subquery()
    with catalog_errors(f"cannot read what camera {camera_id} has recorded"), engine.connect() as conn:
        first, last = conn.execute(select(func.min(both.c.s), func.max(both.c.e))).one()
    return None if first is None else int(first), None if last is None else int(last)
