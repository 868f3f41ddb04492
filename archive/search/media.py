"""Segment locations for playback: one segment by seq, or the segments of a range in order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, select

from archive.search.model import SegmentRef
from archive.search.tables import MAX_SEGMENT_US, SEGMENT

__all__ = ["segment_ref", "segment_refs"]

_COLS = (SEGMENT.c.camera_id, SEGMENT.c.seq, SEGMENT.c.bucket, SEGMENT.c.object_key, SEGMENT.c.version_id,
         SEGMENT.c.sha256, SEGMENT.c.size, SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.duration_us,
         SEGMENT.c.container, SEGMENT.c.codec, SEGMENT.c.width, SEGMENT.c.height, SEGMENT.c.partial,
         SEGMENT.c.pruned)  # fmt: skip


def _ref(r: Any) -> SegmentRef:
    return SegmentRef(r[0], int(r[1]), r[2], r[3], r[4], r[5], int(r[6]), int(r[7]), int(r[8]), int(r[9]), r[10],
                      r[11], r[12], r[13], bool(r[14]), bool(r[15]))  # fmt: skip


def segment_ref(conn: Connection, camera_id: str, seq: int) -> SegmentRef | None:
    """The segment logged as entry ``seq`` of the camera, or None."""
    row = conn.execute(select(*_COLS).where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.seq == seq))).first()
    return None if row is None else _ref(row)


def segment_refs(conn: Connection, camera_id: str, lo: int, hi: int, limit: int) -> list[SegmentRef]:
    """Up to ``limit`` segments overlapping ``[lo, hi)``, by start."""
    rows = conn.execute(
        select(*_COLS)
        .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.start_us >= lo - MAX_SEGMENT_US,
                    SEGMENT.c.start_us < hi, SEGMENT.c.end_us > lo))
        .order_by(SEGMENT.c.start_us, SEGMENT.c.seq)
        .limit(limit)
    )  # fmt: skip
    return [_ref(r) for r in rows]
