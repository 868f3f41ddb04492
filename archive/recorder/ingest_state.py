"""The ingester's per-camera bookkeeping, the rule that turns a discontinuity into a gap, spool tidying."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Final

from archive.recorder.sink import GapReason, GapRecord, SegmentRecord, SegmentSink
from archive.recorder.spool import CameraSpool, SpoolFile
from archive.recorder.status import IngestStatus

SEEN_RUNS_KEPT: Final = 16  # prune the runs seen live once more than this many are remembered
UNEXPLAINED: Final = (GapReason.RECORDER_STOPPED, "the run ended while the recorder was not running")


def _logged_end(prev: SegmentRecord, covered: dt.datetime | None) -> dt.datetime:
    """Where the next gap starts: the end of the last logged segment, or of a gap logged after it."""
    return prev.end if covered is None else max(prev.end, covered)


def gap_between(
    prev: SegmentRecord | None,
    record: SegmentRecord,
    run_ends: dict[str, tuple[GapReason, str]],
    tolerance: float,
    covered: dt.datetime | None = None,
) -> GapRecord | None:
    """The gap before ``record``, if it starts more than ``tolerance`` seconds after the end of
    what was logged last: ``prev``'s end, or ``covered`` when a later gap was logged already (the
    one logged when the recorder stopped).

    Its reason is why ``prev``'s run ended (``run_ends``), ``recorder_stopped`` when nobody saw it
    end (the recorder was down), ``ffmpeg_exit`` for a hole inside one run (pure).
    """
    if prev is None:
        return None
    start = _logged_end(prev, covered)
    if (record.start - start).total_seconds() <= tolerance:
        return None
    if start > prev.end:  # a trailing gap covers prev's run end: the rest is the recorder's downtime
        reason, detail = UNEXPLAINED
    elif prev.run_id == record.run_id:
        reason, detail = GapReason.FFMPEG_EXIT, "discontinuity inside one ffmpeg run"
    else:
        reason, detail = run_ends.get(prev.run_id, UNEXPLAINED)
    return GapRecord(record.camera_id, start, record.start, reason, detail)


def trailing_gap(
    prev: SegmentRecord | None,
    covered: dt.datetime | None,
    run_ends: dict[str, tuple[GapReason, str]],
    now: dt.datetime,
    tolerance: float,
) -> GapRecord | None:
    """The gap from the end of what was logged to ``now``, logged when the recorder stops with
    nothing of the camera left to ingest (a camera still down at shutdown), so no second goes
    unexplained while the recorder is off. Its reason is why ``prev``'s run ended (pure)."""
    if prev is None:
        return None
    start = _logged_end(prev, covered)
    if (now - start).total_seconds() <= tolerance:
        return None
    reason, detail = run_ends.get(prev.run_id, (GapReason.RECORDER_STOPPED, ""))
    if start > prev.end:
        reason, detail = UNEXPLAINED
    if reason is GapReason.RECORDER_STOPPED:  # recording ran to the stop: the time the stop took
        return GapRecord(prev.camera_id, start, now, reason, "the recorder was stopping")
    return GapRecord(prev.camera_id, start, now, reason, f"{detail}; until the recorder stopped")


@dataclass
class Pending:
    """One spool file on its way: its seq, its upload, its result."""

    file: SpoolFile
    seq: int
    generation: int
    future: Future[SegmentRecord] | None = None
    record: SegmentRecord | None = None
    attempts: int = 0
    not_before: float = 0.0
    gap_done: bool = False
    dated: bool = False  # record's times set in recording order (archive.recorder.media_clock)
    submitted: int = 0  # uploads started: a retry first looks for an earlier attempt's copy


@dataclass
class Camera:
    """Everything the dispatcher knows about one camera."""

    spool: CameraSpool
    live_runs: frozenset[str] = frozenset()
    seen_runs: frozenset[str] = frozenset()  # runs seen live in this process: their files are new
    run_ends: dict[str, tuple[GapReason, str]] = field(default_factory=dict)
    initialized: bool = False
    next_seq: int = 0
    last: SegmentRecord | None = None
    covered: dt.datetime | None = None  # end of the last logged segment or gap
    pending: list[Pending] = field(default_factory=list)
    generation: int = 0
    kept: set[str] = field(default_factory=set)
    commit_attempts: int = 0
    commit_not_before: float = 0.0
    dirty: bool = True
    truncated: bool = False
    scanned_at: float = 0.0
    status: IngestStatus = field(default_factory=lambda: IngestStatus(""))


def log_trailing_gap(
    cam: Camera, run_ends: dict[str, tuple[GapReason, str]], sink: SegmentSink, now: dt.datetime, tolerance: float
) -> None:
    """Log :func:`trailing_gap` for a camera whose spool holds nothing more to ingest (files left
    there are ingested at the next start and may cover that time). Raises what the sink raises."""
    if not cam.initialized or cam.pending or any(f.name not in cam.kept for f in cam.spool.scan(())):
        return
    gap = trailing_gap(cam.last, cam.covered, run_ends, now, tolerance)
    if gap is not None:
        sink.record_gap(gap)
        cam.covered = gap.end
        cam.status = replace(cam.status, gaps=cam.status.gaps + 1)


def tidy_spool(cam: Camera, lock: threading.Lock) -> None:
    """Once a camera's backlog is empty: forget the spool runs with nothing left and, when more
    than :data:`SEEN_RUNS_KEPT` are remembered, the runs seen live whose files are all gone
    (``lock`` guards ``seen_runs``). A spool error is kept in the status, never raised."""
    try:
        cam.spool.forget_finished_runs(cam.live_runs)
        if len(cam.seen_runs) > SEEN_RUNS_KEPT:
            present = set(cam.spool.run_ids())
            with lock:
                cam.seen_runs = frozenset(r for r in cam.seen_runs if r in present or r in cam.live_runs)
    except OSError as exc:
        cam.status = replace(cam.status, last_error=f"spool cleanup: {exc}")
