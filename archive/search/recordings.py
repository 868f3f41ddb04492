"""Recordings of cameras in a time range: coverage intervals, gaps, pruned media, segment pages.

The rows come from the ledger's index (:mod:`archive.ledger.index`, :mod:`archive.ledger.hot_index`,
and for coverage its merged pieces, :mod:`archive.ledger.cover_index`);
a segment overlaps ``[lo, hi)`` when ``start < hi`` and ``end > lo``. Segment pages are keyset
pages over ``(camera_id, start_us, seq)``; the cursor is opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from sqlalchemy import Connection

from archive.errors import Problem, ValidationError
from archive.ledger import cover_index, hot_index, index
from archive.search.intervals import merge, subtract
from archive.search.model import CameraCoverage, GapView, Interval, SegmentHit

__all__ = ["coverage", "coverages", "decode_cursor", "encode_cursor", "gaps", "scanned_coverage", "segments_page"]

Cursor = tuple[str, int, int]
Span = tuple[int, int, bool, int]
"""``(start_us, end_us, pruned, size)`` of one segment."""


def encode_cursor(c: Cursor) -> str:
    """Opaque text of a keyset position."""
    return base64.urlsafe_b64encode(f"{c[0]}\x1f{c[1]}\x1f{c[2]}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The keyset position of a cursor. Raises ValidationError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        cam, start, seq = raw.split("\x1f")
        if not (0 <= int(start) < 2**62 and 0 <= int(seq) < 2**62 and 0 < len(cam) <= 64):
            raise ValueError(raw)
        return cam, int(start), int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError([Problem("cursor", "not a cursor from a previous page of this search")]) from None


def segments_page(conn: Connection, camera_ids: Sequence[str], lo: int, hi: int, after: Cursor | None,
                  limit: int) -> tuple[list[SegmentHit], Cursor | None]:  # fmt: skip
    """Up to ``limit`` segments overlapping ``[lo, hi)`` of ``camera_ids`` (sorted), after the
    cursor; returns them and the next cursor (None on the last page)."""
    out: list[SegmentHit] = []
    cams = sorted(camera_ids)
    if after is not None:
        cams = [c for c in cams if c >= after[0]]
    for cam in cams:
        pos = (after[1], after[2]) if after is not None and cam == after[0] else None
        out.extend(SegmentHit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], bool(r[11]),
                              bool(r[12])) for r in hot_index.page_rows(conn, cam, lo, hi, pos, limit - len(out) + 1))
        if len(out) > limit:
            break
    if len(out) > limit:
        last = out[limit - 1]
        return out[:limit], (last.camera_id, last.start_us, last.seq)
    return out, None


def gaps(conn: Connection, camera_id: str, lo: int, hi: int) -> list[GapView]:
    """Gap entries overlapping ``[lo, hi)``, by start."""
    return [GapView(*r) for r in index.gap_rows(conn, camera_id, lo, hi)]


def coverage(conn: Connection, camera_id: str, lo: int, hi: int, now_us: int,
             segments: Sequence[SegmentHit] | None = None) -> CameraCoverage:  # fmt: skip
    """What ``camera_id`` has in ``[lo, hi)``. ``segments``: all of its overlapping segments when
    the caller already holds them (saves a query); else the merged coverage pieces the ledger
    keeps (:mod:`archive.ledger.cover_index`: whole pieces inside the range, the pieces' own
    segments at its edges), which gives what :func:`scanned_coverage` gives. Time after
    ``now_us`` is never unaccounted."""
    if segments is not None:
        spans = [(s.start_us, s.end_us, s.pruned, s.size) for s in segments]
        return _coverage(camera_id, lo, hi, now_us, spans, len(spans), sum(s.size for s in segments),
                         gaps(conn, camera_id, lo, hi))  # fmt: skip
    parts = cover_index.cover_parts(conn, camera_id, lo, hi)
    return _coverage(camera_id, lo, hi, now_us, parts.spans, parts.segments, parts.bytes,
                     [GapView(*g) for g in parts.gaps])  # fmt: skip


def coverages(conn: Connection, camera_ids: Sequence[str], lo: int, hi: int, now_us: int) -> dict[str, CameraCoverage]:
    """:func:`coverage` of several cameras, by id, in two round trips
    (:func:`archive.ledger.cover_index.cover_parts_of`)."""
    return {c: _coverage(c, lo, hi, now_us, p.spans, p.segments, p.bytes, [GapView(*g) for g in p.gaps])
            for c, p in cover_index.cover_parts_of(conn, camera_ids, lo, hi).items()}  # fmt: skip


def scanned_coverage(conn: Connection, camera_id: str, lo: int, hi: int, now_us: int) -> CameraCoverage:
    """:func:`coverage` from every overlapping segment row, merged here: the reference the
    pieces are tested against (and the bench's baseline); its cost grows with the range."""
    spans, gap_tuples = hot_index.spans_and_gaps(conn, camera_id, lo, hi)
    return _coverage(camera_id, lo, hi, now_us, spans, len(spans), sum(sz for _, _, _, sz in spans),
                     [GapView(*g) for g in gap_tuples])  # fmt: skip


def _coverage(camera_id: str, lo: int, hi: int, now_us: int, spans: Sequence[Span], count: int, size: int,
              found_gaps: list[GapView]) -> CameraCoverage:  # fmt: skip
    covered = merge(((s, e) for s, e, p, _ in spans if not p), lo, hi)
    pruned = merge(((s, e) for s, e, p, _ in spans if p), lo, hi)
    taken = covered + pruned + [Interval(max(g.start_us, lo), min(g.end_us, hi)) for g in found_gaps]
    unaccounted = subtract(lo, min(hi, now_us), taken) if now_us > lo else []
    return CameraCoverage(camera_id, tuple(covered), tuple(pruned), tuple(found_gaps), tuple(unaccounted), count,
                          size)  # fmt: skip
