"""The catalog tables search reads (Core objects), and the overlap condition on segments."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_
from sqlmodel import SQLModel

from archive.catalog import log_tables as _log_tables  # noqa: F401  (registers segment and gap)

__all__ = ["GAP", "MAX_SEGMENT_US", "SEGMENT", "overlap"]

SEGMENT = SQLModel.metadata.tables["segment"]
GAP = SQLModel.metadata.tables["gap"]
MAX_SEGMENT_US = 15 * 60 * 1_000_000
"""Longest segment the overlap search allows for (segments are 2-60 s by configuration)."""


def overlap(camera_id: str, lo: int, hi: int) -> ColumnElement[bool]:
    """Segments of ``camera_id`` overlapping ``[lo, hi)``, in a form that uses the
    ``(camera_id, start_us)`` index: ``start`` in ``[lo - MAX_SEGMENT_US, hi)`` and ``end > lo``."""
    return and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.start_us >= lo - MAX_SEGMENT_US,
                SEGMENT.c.start_us < hi, SEGMENT.c.end_us > lo)  # fmt: skip
