"""The ingester's per-camera bookkeeping, the rule that turns a discontinuity into a gap, spool tidying."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Final

from archive.recorder.camera_clock import CameraTimes
from archive.recorder.sink import GapRecord, RecorderGapReason, SegmentRecord, SegmentSink
from archive.recorder.spool import CameraSpool, SpoolFile
from archive.recorder.status import IngestStatus
from archive.recorder.timeline import StateTimeline

SEEN_RUNS_KEPT: Final = 16  # prune the runs seen live once more than this many are remembered
_EPOCH: Final = re.compile(r"Ze(\d{1,18})$")


def run_epoch(run_id: str) -> int | None:
    """The writer-claim epoch a spool run was recorded under (``<start>e<epoch>``), None without one."""
    m = _EPOCH.search(run_id)
    return None if m is None else int(m.group(1))


def _logged_end(prev: SegmentRecord, covered: dt.datetime | None) -> dt.datetime:
    """Where the next gap starts: the end of the last logged segment, or of a gap logged after it."""
    return prev.end if covered is None else max(prev.end, covered)


def _pieces(camera_id: str, timeline: StateTimeline, start: dt.datetime, end: dt.datetime,
            tolerance: float) -> list[GapRecord]:  # fmt: skip
    return [GapRecord(camera_id, p.start, p.end, p.reason, p.detail) for p in timeline.explain(start, end, tolerance)]


def gap_between(
    prev: SegmentRecord | None,
    record: SegmentRecord,
    timeline: StateTimeline,
    tolerance: float,
    covered: dt.datetime | None = None,
) -> list[GapRecord]:
    """The gaps before ``record``, if it starts more than ``tolerance`` seconds after the end of
    what was logged last: ``prev``'s end, or ``covered`` when a later gap was logged already (the
    one logged when the recorder stopped).

    One gap per state the camera was in meanwhile (``timeline``, SPEC.md 2.3 "Reasons from the
    recorder's state"); ``ffmpeg_exit`` for a hole inside one run (pure but for reading ``timeline``).
    """
    if prev is None:
        return []
    start = _logged_end(prev, covered)
    if (record.start - start).total_seconds() <= tolerance:
        return []
    if prev.run_id == record.run_id and start == prev.end:
        return [GapRecord(record.camera_id, start, record.start, RecorderGapReason.FFMPEG_EXIT,
                          "discontinuity inside one ffmpeg run")]  # fmt: skip
    return _pieces(record.camera_id, timeline, start, record.start, tolerance)


def trailing_gap(
    prev: SegmentRecord | None,
    covered: dt.datetime | None,
    timeline: StateTimeline,
    now: dt.datetime,
    tolerance: float,
) -> list[GapRecord]:
    """The gaps from the end of what was logged to ``now``, logged when the recorder stops with
    nothing of the camera left to ingest (a camera still down at shutdown), so no second goes
    unexplained while the recorder is off; one per state, as in :func:`gap_between`."""
    if prev is None:
        return []
    start = _logged_end(prev, covered)
    if (now - start).total_seconds() <= tolerance:
        return []
    return _pieces(prev.camera_id, timeline, start, now, tolerance)


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
    dated: bool = False  # record's times set in recording order (archive.recorder.media_clock)
    submitted: int = 0  # uploads started: a retry first looks for an earlier attempt's copy
    camera_wait_since: float | None = None  # first waited for its camera time (archive.recorder.camera_clock)


@dataclass
class CameraIngest:
    """Everything the dispatcher knows about one camera."""

    spool: CameraSpool
    live_runs: frozenset[str] = frozenset()
    seen_runs: frozenset[str] = frozenset()  # runs seen live in this process: their files are new
    timeline: StateTimeline = field(default_factory=StateTimeline)  # what the supervisor saw (marks)
    initialized: bool = False
    next_seq: int = 0
    last: SegmentRecord | None = None
    covered: dt.datetime | None = None  # end of the last logged segment or gap
    pending: list[Pending] = field(default_factory=list)
    generation: int = 0
    kept: set[str] = field(default_factory=set)  # stored and logged, but the file could not be deleted
    epoch: int | None = None  # the writer-claim epoch this process records the camera under
    superseded: set[str] = field(default_factory=set)  # earlier-epoch files whose time the log holds already
    preroll_runs: frozenset[str] = frozenset()  # runs started before the claim was held (handover pre-roll)
    fenced: str | None = None  # the claim was taken over (WriterClaimLostError): nothing more is appended
    commit_attempts: int = 0
    commit_not_before: float = 0.0
    dirty: bool = True
    truncated: bool = False
    scanned_at: float = 0.0
    status: IngestStatus = field(default_factory=lambda: IngestStatus(""))
    camera_times: dict[str, CameraTimes] = field(default_factory=dict)  # per run, read as segments are dated

    def skipped(self, name: str) -> bool:
        """A spool file this process will not ingest (kept after storing, or superseded)."""
        return name in self.kept or name in self.superseded

    def supersedes(self, file: SpoolFile) -> bool:
        """``file`` was recorded under an earlier writer claim than this process's and arrived no
        later than what the camera's log holds already (another node logged that time, e.g. as a
        failover gap): appending it would overlap the log (SPEC.md 8 step 8), so it is kept in the
        spool and never logged by this process (nothing unstored is deleted). So is a file of a
        pre-roll run (:attr:`preroll_runs`: recorded while the previous holder still recorded) that
        arrived no later than the end of the log."""
        epoch = run_epoch(file.run_id)
        earlier = epoch is not None and self.epoch is not None and epoch < self.epoch
        return (earlier or file.run_id in self.preroll_runs) and self.covered is not None and file.mtime <= self.covered


def log_trailing_gap(cam: CameraIngest, sink: SegmentSink, now: dt.datetime, tolerance: float) -> None:
    """Log :func:`trailing_gap` for a camera whose spool holds nothing more to ingest (files left
    there are ingested at the next start and may cover that time). Raises what the sink raises."""
    if not cam.initialized or cam.fenced or cam.pending or any(not cam.skipped(f.name) for f in cam.spool.scan(())):
        return
    for gap in trailing_gap(cam.last, cam.covered, cam.timeline, now, tolerance):
        sink.record_gap(gap)
        cam.covered = gap.end
        cam.status = replace(cam.status, gaps=cam.status.gaps + 1)


def tidy_spool(cam: CameraIngest, lock: threading.Lock) -> None:
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
