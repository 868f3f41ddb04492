"""Where ingested segments and gaps are reported: the :class:`SegmentSink` protocol and its values.

The ingester calls the sink from one thread, per camera strictly in recording order: every gap
comes after the segment before it and before the segment after it. Only after
``record_segment`` returned does the ingester delete the spool file; if it raises, the file stays
and the call is repeated later with the same record (so implementations should be idempotent on
``(camera_id, seq)``). The production sink (catalog row + integrity log entry) lives elsewhere;
The test double (an in-memory sink) lives in tests/fixtures/memory_sink.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class RecorderGapReason(StrEnum):
    """Why seconds of a camera are not covered by segments."""

    CAMERA_UNREACHABLE = "camera_unreachable"  # connection refused / timed out / dropped by the camera
    RECORDER_STOPPED = "recorder_stopped"  # the recorder was stopped or crashed (found at start-up)
    FFMPEG_EXIT = "ffmpeg_exit"  # ffmpeg ended for another reason (error, unsupported stream ...)
    STALLED = "stalled"  # the watchdog ended an ffmpeg that made no progress
    SPOOL_FULL = "spool_full"  # recording paused: the spool reached its limit (store down too long)
    CAMERA_REJECTED = "camera_rejected"  # the camera refused us (authentication, 4xx)
    FAILOVER = "recorder_failover"  # the camera's node died, another took it over (SPEC.md 2.3.1: logged as "other")


@dataclass(frozen=True)
class SegmentRecord:
    """One segment, stored and confirmed.

    ``start``/``end`` (UTC) are the media clock anchored to the wall clock, bounded by arrival
    (SPEC.md 9.1, :mod:`archive.recorder.media_clock`); ``wall_end`` is the wall clock at which
    the file was finished (its arrival); ``arrival_lag`` = ``wall_end - end`` in seconds and
    ``dating`` how the times were set (a :class:`~archive.recorder.media_clock.Dating` value),
    both None/"" until the ingester dated the record in recording order. ``duration`` is the
    media duration from the stream's timestamps. ``partial``: ffmpeg never closed the file
    (killed or crashed mid-segment). ``run_id``/``run_index`` name the spool file it came from.
    ``camera_start``: the camera's own time of the segment's first frame, from its RTCP sender
    reports (SPEC.md 2.2, :mod:`archive.recorder.camera_clock`); None when it sent none.
    """

    camera_id: str
    seq: int
    bucket: str
    key: str
    version_id: str
    size: int
    sha256: str
    start: dt.datetime
    end: dt.datetime
    wall_end: dt.datetime
    arrival_lag: float | None
    duration: float
    video_codec: str | None
    width: int | None
    height: int | None
    audio_codec: str | None
    starts_with_keyframe: bool
    readable: bool
    complete: bool
    partial: bool
    run_id: str
    run_index: int
    ingested_at: dt.datetime
    problems: tuple[str, ...] = ()
    dating: str = ""
    camera_start: dt.datetime | None = None


@dataclass(frozen=True)
class GapRecord:
    """Seconds of one camera not covered by any segment: ``[start, end)`` in UTC."""

    camera_id: str
    start: dt.datetime
    end: dt.datetime
    reason: RecorderGapReason
    detail: str = ""

    @property
    def seconds(self) -> float:
        """Length of the gap."""
        return (self.end - self.start).total_seconds()


class SegmentSink(Protocol):
    """Receives confirmed segments and gaps, per camera in recording order.

    Any exception from a ``record_*`` call leaves the spool file in place; the call is retried.
    """

    def last_segment(self, camera_id: str) -> SegmentRecord | None:
        """The last segment recorded for the camera (for ``seq`` and gap continuity), or None."""

    def covered_until(self, camera_id: str) -> dt.datetime | None:
        """The latest end of anything recorded for the camera (segment or gap), or None: where the
        next gap starts, so a gap logged when the recorder stopped is never logged twice."""

    def record_segment(self, record: SegmentRecord) -> None:
        """Record one stored segment. Called before the spool file is deleted."""

    def record_gap(self, record: GapRecord) -> None:
        """Record one gap."""
