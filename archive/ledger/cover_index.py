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
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import Connection

from archive.ledger.coverage import BUCKET_US
from archive.ledger.hot_index import GapTuple, Span, fetch_rows
from archive.ledger.index import MAX_SEGMENT_US

__all__ = ["CoverParts", "cover_parts", "cover_parts_of", "latest_media", "newest_media"]

# The newest end among a camera's segments with media overlapping [lo, hi) (the overlap rule of the
# search): a backward walk of the partial index ix_segment_live_end (camera_id, end_us, seq, start_us,
# size) WHERE pruned is false, which stops at the first entry that started before hi. Its WHERE is
# written as the index's own; SQLite is told the index (with the fill's statistics it chose the
# (camera_id, start_us) index, a scan of the whole window plus a sort: 8700 rows for 24 h).
_LAST = ("SELECT end_us, start_us FROM segment{indexed} WHERE camera_id = {cam} AND {live} AND end_us > {lo} "
         "AND start_us < {hi} AND start_us >= {lo_min} ORDER BY end_us DESC LIMIT 1")
_LIVE = {"sqlite": ("pruned = 0", " INDEXED BY ix_segment_live_end"), "postgresql": ("pruned = false", "")}
_LATEST_ALL = "SELECT camera_id, end_us, start_us FROM camera_latest"
_NAMES = ("cam", "lo", "hi", "lo_min")


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


_PIECES_OF = ("SELECT 0, camera_id, start_us, end_us, pruned, last_start_us, segments, bytes, NULL, NULL "
              "FROM coverage_piece WHERE camera_id IN ({cams}) AND bucket >= {b_lo} AND bucket <= {b_hi} "
              "AND end_us > {lo} AND start_us < {hi} "
              "UNION ALL SELECT 1, camera_id, start_us, end_us, FALSE, seq, 0, 0, reason, detail FROM gap "
              "WHERE camera_id IN ({cams}) AND start_us < {hi} AND end_us > {lo}")  # fmt: skip
# The edge segments of all cameras in one statement: a list of (camera, start window) joined to the
# (camera_id, start_us) index (CROSS JOIN: SQLite then walks the list first; a UNION ALL of one
# SELECT per window cost PostgreSQL 40 ms of planning for 32 windows, against 3 ms for this).
_EDGES_OF = ("WITH w(cam, a, b) AS (VALUES {windows}) SELECT s.camera_id, s.start_us, s.end_us, s.pruned, s.size "
             "FROM w CROSS JOIN segment s WHERE s.camera_id = w.cam AND s.start_us >= w.a AND s.start_us <= w.b "
             "AND s.end_us > {lo}")
# (each window is already cut to the overlap rule's starts, [lo - MAX_SEGMENT_US, hi - 1]: with those
# bounds written as constants SQLite searched the index by them, a day, instead of by the window)


def _m(dialect: str, name: str) -> str:
    return f"%({name})s" if dialect == "postgresql" else f":{name}"


@dataclass
class _CoverAccumulator:
    spans: list[Span] = field(default_factory=list)
    gaps: list[GapTuple] = field(default_factory=list)
    edges: dict[bool, list[tuple[int, int]]] = field(default_factory=lambda: {False: [], True: []})
    count: int = 0
    size: int = 0


def cover_parts(conn: Connection, camera_id: str, lo: int, hi: int) -> CoverParts:
    """What :func:`archive.ledger.hot_index.spans_and_gaps` gives, with the inner segments
    already merged into pieces. Raises CatalogError."""
    return cover_parts_of(conn, [camera_id], lo, hi)[camera_id]


def cover_parts_of(conn: Connection, camera_ids: Sequence[str], lo: int, hi: int) -> dict[str, CoverParts]:
    """:func:`cover_parts` of several cameras in two round trips (the pieces and gaps of all, then
    the edge segments of all). Raises CatalogError."""
    d = conn.dialect.name
    ids = sorted(set(camera_ids))
    acc = {c: _CoverAccumulator() for c in ids}
    if not ids:
        return {}
    names = {f"c{i}": c for i, c in enumerate(ids)}
    lohi = {"lo": _m(d, "lo"), "hi": _m(d, "hi")}
    sql = _PIECES_OF.format(cams=", ".join(_m(d, n) for n in names), b_lo=_m(d, "b_lo"), b_hi=_m(d, "b_hi"), **lohi)
    params: dict[str, object] = {**names, "lo": lo, "hi": hi, "b_lo": (lo - MAX_SEGMENT_US) // BUCKET_US,
                                 "b_hi": (hi - 1) // BUCKET_US}  # fmt: skip
    for r in fetch_rows(conn, sql, params):
        a = acc[str(r[1])]
        if r[0] == 1:
            a.gaps.append((int(r[5]), int(r[2]), int(r[3]), str(r[8]), str(r[9])))
        elif r[2] >= lo and r[3] <= hi:  # wholly inside: every one of its segments overlaps, none is clipped
            a.spans.append((int(r[2]), int(r[3]), bool(r[4]), int(r[7])))
            a.count, a.size = a.count + int(r[6]), a.size + int(r[7])
        else:  # crosses an edge: its own segments, by the search's overlap rule
            a.edges[bool(r[4])].append((int(r[2]), int(r[5])))
    windows: list[str] = []
    eparams: dict[str, object] = {"lo": lo}
    for i, c in enumerate(ids):
        merged: list[list[int]] = []
        for ws, we in sorted(acc[c].edges[False] + acc[c].edges[True]):
            if merged and ws <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], we)
            else:
                merged.append([ws, we])
        for k, (ws, we) in enumerate((max(ws, lo - MAX_SEGMENT_US), min(we, hi - 1)) for ws, we in merged):
            if ws > we:
                continue
            n = f"{i}_{k}"
            windows.append(f"({_m(d, 'c' + n)}, CAST({_m(d, 'a' + n)} AS BIGINT), CAST({_m(d, 'b' + n)} AS BIGINT))")
            eparams.update({"c" + n: c, "a" + n: ws, "b" + n: we})
    if windows:
        sql = _EDGES_OF.format(windows=", ".join(windows), lo=_m(d, "lo"))
        for cam, st, en, p, z in fetch_rows(conn, sql, eparams):
            a = acc[str(cam)]
            if any(ea <= st <= eb for ea, eb in a.edges[bool(p)]):  # else it belongs to a piece counted whole
                a.spans.append((int(st), int(en), bool(p), int(z)))
                a.count, a.size = a.count + 1, a.size + int(z)
    out = {}
    for c, a in acc.items():
        a.spans.sort(key=lambda x: x[0])
        a.gaps.sort(key=lambda g: (g[1], g[0]))
        out[c] = CoverParts(tuple(a.spans), a.count, a.size, tuple(a.gaps))
    return out


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
