"""Fast reads of what cameras have recorded: a range's coverage from the merged pieces
(:mod:`archive.ledger.coverage`), and each camera's newest media (``camera_latest``, or an index
probe of a window), as SQL text on the DB-API cursor like :mod:`archive.ledger.hot_index` (whose
segment-by-segment read stays the reference).

A range's coverage takes the pieces that lie wholly inside ``[lo, hi)`` as they are and, for the
pieces crossing an edge of the range, their own segments (at most a bucket of them), selected with
exactly the overlap rule of the segment search (``start`` in ``[lo - MAX_SEGMENT_US, hi)``,
``end > lo``): merging the result gives the same intervals, counts and bytes as merging every
overlapping segment. Database errors are raised as :class:`~archive.errors.CatalogError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Connection

from archive.ledger.coverage import BUCKET_US
from archive.ledger.hot_index import GapTuple, Span, fetch_rows
from archive.ledger.index import MAX_SEGMENT_US

__all__ = ["CoverParts", "cover_parts", "latest_media", "newest_media"]

_PIECES = ("SELECT 0, start_us, end_us, pruned, last_start_us, segments, bytes, NULL, NULL FROM coverage_piece "
           "WHERE camera_id = {cam} AND bucket >= {b_lo} AND bucket <= {b_hi} AND end_us > {lo} AND start_us < {hi} "
           "UNION ALL SELECT 1, start_us, end_us, FALSE, seq, 0, 0, reason, detail FROM gap "
           "WHERE camera_id = {cam} AND start_us < {hi} AND end_us > {lo}")  # fmt: skip
_EDGE = ("SELECT start_us, end_us, pruned, size FROM segment WHERE camera_id = {cam} AND start_us >= {a} "
         "AND start_us <= {b} AND start_us >= {lo_min} AND start_us < {hi} AND end_us > {lo}")
# The newest end among a camera's segments with media overlapping [lo, hi) (the overlap rule of the
# search): a backward walk of the partial index ix_segment_live_end (camera_id, end_us, seq, start_us,
# size) WHERE pruned is false, which stops at the first entry that started before hi. Its WHERE is
# written as the index's own; SQLite is told the index (with the fill's statistics it chose the
# (camera_id, start_us) index, a scan of the whole window plus a sort: 8700 rows for 24 h).
_LAST = ("SELECT end_us, start_us FROM segment{indexed} WHERE camera_id = {cam} AND {live} AND end_us > {lo} "
         "AND start_us < {hi} AND start_us >= {lo_min} ORDER BY end_us DESC LIMIT 1")
_LIVE = {"sqlite": ("pruned = 0", " INDEXED BY ix_segment_live_end"), "postgresql": ("pruned = false", "")}
_LATEST_ALL = "SELECT camera_id, end_us, start_us FROM camera_latest"
_NAMES = ("cam", "b_lo", "b_hi", "lo", "hi", "a", "b", "lo_min")


@cache
def _sql(template: str, dialect: str) -> str:
    names = {n: (f"%({n})s" if dialect == "postgresql" else f":{n}") for n in _NAMES}
    live, indexed = _LIVE.get(dialect, ("pruned = false", ""))
    return template.format(**names, live=live, indexed=indexed)


@dataclass(frozen=True)
class CoverParts:
    """A camera's range as whole pieces and edge segments: ``spans`` ``(start, end, pruned, size)``
    sorted by start (each either a piece of consecutive segments or one segment, unclipped),
    ``segments``/``bytes`` of the overlapping segments, ``gaps`` the overlapping gap entries by
    ``(start, seq)``."""

    spans: tuple[Span, ...]
    segments: int
    bytes: int
    gaps: tuple[GapTuple, ...]


def cover_parts(conn: Connection, camera_id: str, lo: int, hi: int) -> CoverParts:
    """What :func:`archive.ledger.hot_index.spans_and_gaps` gives, with the inner segments
    already merged into pieces. Raises CatalogError."""
    dialect = conn.dialect.name
    base = {"cam": camera_id, "lo": lo, "hi": hi}
    spans: list[Span] = []
    gaps: list[GapTuple] = []
    edges: dict[bool, list[tuple[int, int]]] = {False: [], True: []}
    count = size = 0
    rows = fetch_rows(conn, _sql(_PIECES, dialect), {**base, "b_lo": (lo - MAX_SEGMENT_US) // BUCKET_US,
                                                      "b_hi": (hi - 1) // BUCKET_US})  # fmt: skip
    for r in rows:
        if r[0] == 1:
            gaps.append((int(r[4]), int(r[1]), int(r[2]), str(r[7]), str(r[8])))
        elif r[1] >= lo and r[2] <= hi:  # wholly inside: every one of its segments overlaps, none is clipped
            spans.append((int(r[1]), int(r[2]), bool(r[3]), int(r[6])))
            count, size = count + int(r[5]), size + int(r[6])
        else:  # crosses an edge: its own segments, by the search's overlap rule
            edges[bool(r[3])].append((int(r[1]), int(r[4])))
    windows = sorted(edges[False] + edges[True])
    merged: list[list[int]] = []
    for a, b in windows:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    for a, b in merged:
        for s, e, p, z in fetch_rows(conn, _sql(_EDGE, dialect), {**base, "a": a, "b": b,
                                                                  "lo_min": lo - MAX_SEGMENT_US}):  # fmt: skip
            if any(ea <= s <= eb for ea, eb in edges[bool(p)]):  # else it belongs to a piece counted whole
                spans.append((int(s), int(e), bool(p), int(z)))
                count, size = count + 1, size + int(z)
    spans.sort(key=lambda x: x[0])
    gaps.sort(key=lambda g: (g[1], g[0]))
    return CoverParts(tuple(spans), count, size, tuple(gaps))


def newest_media(conn: Connection, camera_ids: Sequence[str], lo: int, hi: int) -> dict[str, tuple[int, int] | None]:
    """For each camera, ``(end_us, start_us)`` of a segment with media overlapping ``[lo, hi)`` by
    the search's overlap rule whose end is the latest (not clipped), None when there is none: one
    index probe per camera. Raises CatalogError."""
    sql = _sql(_LAST, conn.dialect.name)
    out: dict[str, tuple[int, int] | None] = {}
    for cam in camera_ids:
        found = fetch_rows(conn, sql, {"cam": cam, "lo": lo, "hi": hi, "lo_min": lo - MAX_SEGMENT_US})
        out[cam] = (int(found[0][0]), int(found[0][1])) if found else None
    return out


def latest_media(conn: Connection) -> dict[str, tuple[int, int]]:
    """Camera -> ``(end_us, start_us)`` of its segment with media whose end is the latest, for every
    camera that has one (``camera_latest``: one read). Raises CatalogError."""
    return {str(r[0]): (int(r[1]), int(r[2])) for r in fetch_rows(conn, _LATEST_ALL, {})}
