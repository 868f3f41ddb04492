"""Segment locations for playback: one segment by seq, or the segments of a range in order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from archive.ledger import index
from archive.search.model import SegmentRef

__all__ = ["segment_ref", "segment_refs"]


def _ref(r: Any) -> SegmentRef:
    return SegmentRef(r[0], int(r[1]), r[2], r[3], r[4], r[5], int(r[6]), int(r[7]), int(r[8]), int(r[9]), r[10],
                      r[11], r[12], r[13], bool(r[14]), bool(r[15]))  # fmt: skip


def segment_ref(conn: Connection, camera_id: str, seq: int) -> SegmentRef | None:
    """The segment logged as entry ``seq`` of the camera, or None."""
    row = index.segment_location(conn, camera_id, seq)
    return None if row is None else _ref(row)


def segment_refs(conn: Connection, camera_id: str, lo: int, hi: int, limit: int) -> list[SegmentRef]:
    """Up to ``limit`` segments overlapping ``[lo, hi)``, by start."""
    return [_ref(r) for r in index.segment_locations(conn, camera_id, lo, hi, limit)]
