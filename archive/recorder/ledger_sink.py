"""The production :class:`~archive.recorder.sink.SegmentSink`: catalog row + evidence-log entry.

Each confirmed segment becomes one ``segment`` entry of the camera's log and its catalog row in
one transaction (:meth:`archive.ledger.service.Ledger.append_segment`); each gap a ``gap`` entry.
Both are idempotent, so the ingester may repeat a call after a crash. The recorder's own fields
that are not evidence (spool run, recorder seq, wall clock at the end, how the times were dated
and the arrival lag, SPEC.md 9.1) travel in the row's
``meta`` so :meth:`LedgerSink.last_segment` can hand the ingester back the record it needs for
seq and gap continuity after a restart.
"""

from __future__ import annotations

import datetime as dt

from archive.integrity import GapReason as LogGapReason
from archive.integrity import MediaInfo
from archive.ledger.facts import SegmentFacts, SegmentView
from archive.ledger.service import Ledger
from archive.recorder.ffmpeg import CONTAINER
from archive.recorder.sink import GapRecord, RecorderGapReason, SegmentRecord
from archive.redact import scrub

# Recorder reasons -> the closed set of SPEC.md 2.3; the recorder's own word goes in ``detail``.
_REASONS: dict[RecorderGapReason, LogGapReason] = {
    RecorderGapReason.CAMERA_UNREACHABLE: LogGapReason.CAMERA_UNREACHABLE,
    RecorderGapReason.RECORDER_STOPPED: LogGapReason.RECORDER_STOPPED,
    RecorderGapReason.FFMPEG_EXIT: LogGapReason.STREAM_ERROR,
    RecorderGapReason.STALLED: LogGapReason.STREAM_ERROR,
    RecorderGapReason.SPOOL_FULL: LogGapReason.SPOOL_FULL,
    RecorderGapReason.CAMERA_REJECTED: LogGapReason.CAMERA_UNREACHABLE,
    RecorderGapReason.FAILOVER: LogGapReason.OTHER,  # not in archive-log/1's closed set (SPEC.md 2.3.1, 11)
}


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


class LedgerSink:
    """Writes segments and gaps to the catalog and the evidence log. Thread-safe (the Ledger is)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def last_segment(self, camera_id: str) -> SegmentRecord | None:
        """The newest logged segment of the camera, as the ingester's record. Raises CatalogError."""
        view = self._ledger.last_segment(camera_id)
        return None if view is None else _record(view)

    def covered_until(self, camera_id: str) -> dt.datetime | None:
        """The end of the newest logged segment or gap of the camera. Raises CatalogError."""
        view = self._ledger.last_segment(camera_id)
        ends = [e for e in (None if view is None else view.end, self._ledger.last_gap_end(camera_id)) if e]
        return max(ends, default=None)

    def record_segment(self, record: SegmentRecord) -> None:
        """Log one stored segment (idempotent). Raises ConflictError, CatalogError, MalformedError."""
        media = MediaInfo(
            container=CONTAINER,
            codec=record.video_codec or "unknown",
            width=record.width,
            height=record.height,
            keyframe_start=record.starts_with_keyframe,
            partial=record.partial,
        )
        meta = {
            "recorder_seq": str(record.seq),
            "run_id": record.run_id,
            "run_index": str(record.run_index),
            "wall_end": record.wall_end.isoformat(),
            "audio_codec": record.audio_codec or "",
            "readable": "1" if record.readable else "0",
            "complete": "1" if record.complete else "0",
            "problems": scrub("; ".join(record.problems))[:2000],
            "dating": record.dating,
            "arrival_lag_us": "" if record.arrival_lag is None else str(_us(record.arrival_lag)),
        }
        facts = SegmentFacts(
            object_key=record.key,
            version_id=record.version_id,
            sha256=record.sha256,
            size=record.size,
            start=record.start,
            end=record.end,
            duration_us=_us(record.duration),
            media=media,
            clock_offset_us=None,  # SPEC.md 2.2: the time daemon's offset, which the recorder does not read
            camera_start=record.camera_start,  # SPEC.md 2.2, 9.1: from the camera's RTCP sender reports
            bucket=record.bucket,
            meta=meta,
        )
        self._ledger.append_segment(record.camera_id, facts)

    def record_gap(self, record: GapRecord) -> None:
        """Log one gap (idempotent). Raises CatalogError, MalformedError."""
        reason = _REASONS.get(record.reason, LogGapReason.OTHER)
        detail = record.reason.value if not record.detail else f"{record.reason.value}: {scrub(record.detail)}"
        self._ledger.append_gap(record.camera_id, record.start, record.end, reason, detail[:1000])


def _record(view: SegmentView) -> SegmentRecord:
    meta = view.meta
    wall_end = dt.datetime.fromisoformat(meta["wall_end"]) if "wall_end" in meta else view.end
    return SegmentRecord(
        camera_id=view.camera_id,
        seq=int(meta.get("recorder_seq", view.seq)),
        bucket=view.bucket,
        key=view.object_key,
        version_id=view.version_id,
        size=view.size,
        sha256=view.sha256,
        start=view.start,
        end=view.end,
        wall_end=wall_end,
        arrival_lag=_lag(meta.get("arrival_lag_us", "")),
        duration=view.duration_us / 1_000_000,
        video_codec=None,
        width=None,
        height=None,
        audio_codec=meta.get("audio_codec") or None,
        starts_with_keyframe=True,
        readable=meta.get("readable", "1") == "1",
        complete=meta.get("complete", "1") == "1",
        partial=view.partial,
        run_id=meta.get("run_id", ""),
        run_index=int(meta.get("run_index", "0")),
        ingested_at=view.end,
        dating=meta.get("dating", ""),
    )


def _lag(text: str) -> float | None:
    return int(text) / 1_000_000 if text.lstrip("-").isdigit() else None
