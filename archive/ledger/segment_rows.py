"""Segment rows for retention: pages of unpruned segments for the planner, object versions for
the executor, lock extension and legal holds, live bytes, logged cameras. Read only: the ledger
itself marks segments pruned (a prune entry).

Functions taking an engine raise :class:`~archive.errors.CatalogError`; those taking a
connection let SQLAlchemy errors through to the caller's :func:`~archive.catalog.errors.catalog_errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Integer, and_, bindparam, false, func, or_, select

from archive.catalog.errors import catalog_errors
from archive.ledger.repo import SEGMENT, STATE

__all__ = ["PAGE", "SegmentPages", "SegmentRowView", "live_bytes", "logged_cameras", "segment_source",
           "unpruned_between", "unpruned_from_seq", "unpruned_overlapping"]  # fmt: skip

PAGE = 5_000

SegmentPages = Callable[[str, int, int], Iterator[tuple[int, int, int, int]]]
"""``(camera_id, after_end_us, max_end_us)`` -> ``(seq, start_us, end_us, size)`` of the camera's
unpruned segments with ``after_end_us < end_us <= max_end_us``, by ``(end_us, seq)``."""


@dataclass(frozen=True)
class SegmentRowView:
    """An unpruned segment with its object version (for deleting and holding)."""

    seq: int
    start_us: int
    end_us: int
    size: int
    bucket: str
    object_key: str
    version_id: str


_VIEW = (SEGMENT.c.seq, SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.size, SEGMENT.c.bucket,
         SEGMENT.c.object_key, SEGMENT.c.version_id)  # fmt: skip


def segment_source(engine: Engine, page: int = PAGE, first_page: int = 1000) -> SegmentPages:
    """:data:`SegmentPages` paging (keyset) through the covering partial index of unpruned segments
    ``(camera_id, end_us, seq, start_us, size)``. Pages start at ``first_page`` rows and double up
    to ``page``, so the many streams merged under storage pressure stay small. Rows are fetched
    through the DBAPI cursor (plain tuples): this is the planner's hot path over millions of
    rows, where SQLAlchemy row objects would double the cost."""
    stmt = (
        select(SEGMENT.c.seq, SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.size)
        .where(and_(
            SEGMENT.c.camera_id == bindparam("cam"), SEGMENT.c.pruned == false(),
            SEGMENT.c.end_us >= bindparam("from_end"), SEGMENT.c.end_us <= bindparam("max_end"),
            or_(SEGMENT.c.end_us > bindparam("from_end2"), SEGMENT.c.seq > bindparam("from_seq")),
        ))
        .order_by(SEGMENT.c.end_us, SEGMENT.c.seq)
        .limit(bindparam("lim", type_=Integer))
    )  # fmt: skip
    compiled = stmt.compile(dialect=engine.dialect)
    sql = compiled.string
    order = compiled.positiontup if compiled.positional else None

    defaults = dict(compiled.params)  # e.g. SQLite's "LIMIT ? OFFSET ?" adds an offset of 0

    def params(values: dict[str, Any]) -> Any:
        merged = {**defaults, **values}
        return tuple(merged[k] for k in order) if order is not None else merged

    def source(camera_id: str, after_end_us: int, max_end_us: int) -> Iterator[tuple[int, int, int, int]]:
        from_end, from_seq = after_end_us + 1, -1  # first page: end > after (every seq >= 0)
        size = min(first_page, page)
        while True:
            values = {"cam": camera_id, "from_end": from_end, "from_end2": from_end, "from_seq": from_seq,
                      "max_end": max_end_us, "lim": size}  # fmt: skip
            if from_seq == -1:
                values["from_end2"] = from_end - 1
            with catalog_errors(f"cannot read segments of {camera_id}"), engine.connect() as conn:
                cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                try:
                    cur.execute(sql, params(values))
                    rows: list[tuple[int, int, int, int]] = cur.fetchall()
                finally:
                    cur.close()
            yield from rows
            if len(rows) < size:
                return
            from_seq, from_end = rows[-1][0], rows[-1][2]
            size = min(size * 2, page)

    return source


def unpruned_between(conn: Connection, camera_id: str, lo_seq: int, hi_seq: int) -> list[SegmentRowView]:
    """Unpruned segments of a camera with ``lo_seq <= seq <= hi_seq``, by seq. Raises CatalogError."""
    stmt = (
        select(*_VIEW)
        .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.seq >= lo_seq, SEGMENT.c.seq <= hi_seq,
                    SEGMENT.c.pruned == false()))
        .order_by(SEGMENT.c.seq)
    )  # fmt: skip
    with catalog_errors(f"cannot read segments of {camera_id}"):
        return [SegmentRowView(*r) for r in conn.execute(stmt).all()]


def unpruned_from_seq(engine: Engine, camera_id: str, from_seq: int, limit: int) -> list[SegmentRowView]:
    """Up to ``limit`` unpruned segments of a camera with ``seq >= from_seq``, by seq. Raises CatalogError."""
    stmt = (
        select(*_VIEW)
        .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.seq >= from_seq, SEGMENT.c.pruned == false()))
        .order_by(SEGMENT.c.seq).limit(limit)
    )  # fmt: skip
    with catalog_errors(f"cannot read segments of {camera_id}"), engine.connect() as conn:
        return [SegmentRowView(*r) for r in conn.execute(stmt).all()]


def unpruned_overlapping(conn: Connection, camera_id: str, spans: Sequence[tuple[int, int]]) -> list[SegmentRowView]:
    """Unpruned segments of a camera overlapping any of the ``(start_us, end_us)`` spans (none
    without spans), by seq; SQLAlchemy errors pass through to the caller's seam."""
    if not spans:
        return []
    cover = or_(*(and_(SEGMENT.c.start_us < e, SEGMENT.c.end_us > s) for s, e in spans))
    stmt = (select(*_VIEW).where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.pruned == false(), cover))
            .order_by(SEGMENT.c.seq))  # fmt: skip
    return [SegmentRowView(*r) for r in conn.execute(stmt).all()]


def live_bytes(engine: Engine) -> int:
    """Total size of all unpruned segments. Raises CatalogError."""
    with catalog_errors("cannot sum segment sizes"), engine.connect() as conn:
        total = select(func.coalesce(func.sum(SEGMENT.c.size), 0)).where(SEGMENT.c.pruned == false())
        return int(conn.execute(total).scalar_one())


def logged_cameras(engine: Engine) -> list[str]:
    """Cameras that have an evidence log (hence possibly segments). Raises CatalogError."""
    with catalog_errors("cannot list camera logs"), engine.connect() as conn:
        return sorted({str(r[0]) for r in conn.execute(select(STATE.c.camera_id).distinct())})
