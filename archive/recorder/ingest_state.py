"""The ingester's per-camera bookkeeping, and the rule that turns a discontinuity into a gap."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Final

from archive.recorder.sink import GapReason, GapRecord, SegmentRecord
from archive.recorder.spool import CameraSpool, SpoolFile
from archive.recorder.status import IngestStatus

UNEXPLAINED: Final = (GapReason.RECORDER_STOPPED, "the run ended while the recorder was not running")


def gap_between(
    prev: SegmentRecord | None,
    record: SegmentRecord,
    run_ends: dict[str, tuple[GapReason, str]],
    tolerance: float,
) -> GapRecord | None:
    """The gap before ``record``, if it starts more than ``tolerance`` seconds after ``prev`` ended.

    Its reason is why ``prev``'s run ended (``run_ends``), ``recorder_stopped`` when nobody saw it
    end (the recorder was down), ``ffmpeg_exit`` for a hole inside one run (pure).
    """
    if prev is None or (record.start - prev.end).total_seconds() <= tolerance:
        return None
    if prev.run_id == record.run_id:
        reason, detail = GapReason.FFMPEG_EXIT, "discontinuity inside one ffmpeg run"
    else:
        reason, detail = run_ends.get(prev.run_id, UNEXPLAINED)
    return GapRecord(record.camera_id, prev.end, record.start, reason, detail)


@dataclass
class Pending:
    """One spool file on its way: its seq, its upload, its result."""

    file: SpoolFile
    seq: int
    prev_wall_end: dt.datetime | None
    generation: int
    future: Future[SegmentRecord] | None = None
    record: SegmentRecord | None = None
    attempts: int = 0
    not_before: float = 0.0
    gap_done: bool = False


@dataclass
class Camera:
    """Everything the dispatcher knows about one camera."""

    spool: CameraSpool
    live_runs: frozenset[str] = frozenset()
    run_ends: dict[str, tuple[GapReason, str]] = field(default_factory=dict)
    initialized: bool = False
    next_seq: int = 0
    last: SegmentRecord | None = None
    pending: list[Pending] = field(default_factory=list)
    generation: int = 0
    kept: set[str] = field(default_factory=set)
    commit_attempts: int = 0
    commit_not_before: float = 0.0
    dirty: bool = True
    truncated: bool = False
    scanned_at: float = 0.0
    status: IngestStatus = field(default_factory=lambda: IngestStatus(""))
