"""The two hot queries of a recordings search over the ledger's index, as SQL text with explicit
columns run on the DB-API cursor: a page of segments, and the segments' spans plus the gap entries
of a range. Rows are plain tuples; search makes its views from them.

SQLAlchemy's execution and row objects cost more than the queries themselves here (about 2.4x
measured on both backends), so these two statements bypass them. The text is written once per
parameter style (SQLite ``:name``, psycopg ``%(name)s``) and uses the index
``segment(camera_id, start_us)`` exactly like :mod:`archive.ledger.index`.
Database errors are raised as :class:`~archive.errors.CatalogError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import Connection

from archive.errors import CatalogError
from archive.ledger.index import MAX_SEGMENT_US

__all__ = ["GapTuple", "HitTuple", "Span", "fetch_rows", "page_rows", "spans_and_gaps"]

Span = tuple[int, int, bool, int]
"""``(start_us, end_us, pruned, size)`` of one segment."""
HitTuple = tuple[Any, ...]
"""``(camera_id, seq, start_us, end_us, duration_us, size, sha256, container, codec, width, height,
partial, pruned)`` of one segment."""
GapTuple = tuple[int, int, int, str, str]
"""``(seq, start_us, end_us, reason, detail)`` of one gap entry."""

_OVERLAP = "camera_id = {cam} AND start_us >= {lo_min} AND start_us < {hi} AND end_us > {lo}"
_PAGE = ("SELECT camera_id, seq, start_us, end_us, duration_us, size, sha256, container, codec, width, height, "  # noqa: S608
         "partial, pruned FROM segment WHERE " + _OVERLAP + "{after} ORDER BY start_us, seq LIMIT {n}")
_AFTER = " AND (start_us > {a_start} OR (start_us = {a_start} AND seq > {a_seq}))"
_SPANS = ("SELECT 0, start_us, end_us, pruned, size, NULL, NULL, NULL FROM segment WHERE " + _OVERLAP +  # noqa: S608
          " UNION ALL SELECT 1, start_us, end_us, FALSE, 0, seq, reason, detail FROM gap "
          "WHERE camera_id = {cam} AND start_us < {hi} AND end_us > {lo} ORDER BY 2")
_NAMES = ("cam", "lo_min", "hi", "lo", "n", "a_start", "a_seq")
# The templates are constants; only parameter MARKERS are formatted in, every value is bound.


@cache
def _sql(template: str, dialect: str, after: bool = False) -> str:
    names = {n: (f"%({n})s" if dialect == "postgresql" else f":{n}") for n in _NAMES}
    return template.format(**names, after=_AFTER.format(**names) if after else "")


def fetch_rows(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (this module's parameter style) on the DB-API cursor. Raises CatalogError."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        cur = conn.connection.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()
    except dbapi.Error as exc:
        raise CatalogError(f"catalog query failed: {exc.__class__.__name__}") from exc


def _params(camera_id: str, lo: int, hi: int, **extra: Any) -> dict[str, Any]:
    return {"cam": camera_id, "lo_min": lo - MAX_SEGMENT_US, "hi": hi, "lo": lo, **extra}


def page_rows(conn: Connection, camera_id: str, lo: int, hi: int, after: tuple[int, int] | None,
              n: int) -> list[HitTuple]:  # fmt: skip
    """Up to ``n`` segments of ``camera_id`` overlapping ``[lo, hi)`` after ``(start_us, seq)``.
    Raises CatalogError."""
    extra: dict[str, Any] = {"n": n}
    if after is not None:
        extra.update(a_start=after[0], a_seq=after[1])
    return fetch_rows(conn, _sql(_PAGE, conn.dialect.name, after is not None), _params(camera_id, lo, hi, **extra))


def spans_and_gaps(conn: Connection, camera_id: str, lo: int, hi: int) -> tuple[list[Span], list[GapTuple]]:
    """The overlapping segments ``(start, end, pruned, size)`` by start, and the gap entries
    overlapping ``[lo, hi)`` by ``(start, seq)`` - one round trip. Raises CatalogError."""
    spans: list[Span] = []
    gaps: list[GapTuple] = []
    for r in fetch_rows(conn, _sql(_SPANS, conn.dialect.name), _params(camera_id, lo, hi)):
        if r[0] == 0:
            spans.append((r[1], r[2], bool(r[3]), r[4]))
        else:
            gaps.append((int(r[5]), r[1], r[2], str(r[6]), str(r[7])))
    gaps.sort(key=lambda g: (g[1], g[0]))
    return spans, gaps
