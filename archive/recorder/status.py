"""Frozen snapshots of the recorder's state, for health checks, the API and tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from archive.recorder.spool import SpoolUsage


@dataclass(frozen=True)
class IngestStatus:
    """One camera's ingest counters at one moment."""

    camera_id: str
    ingested: int = 0
    partial_ingested: int = 0
    failures: int = 0
    sink_failures: int = 0
    gaps: int = 0
    backlog_files: int = 0
    backlog_bytes: int = 0
    in_flight: int = 0
    kept_files: int = 0
    last_ingested_at: dt.datetime | None = None
    last_segment_end: dt.datetime | None = None
    last_error: str | None = None
    sink_retrying: int = 0  # commits refused in a row by the sink, now being retried (0: the last one worked)
    oldest_waiting_at: dt.datetime | None = None  # wall clock the oldest segment waiting to be stored was closed
    #: camera minus recorder clock, seconds: the newest logged segment's ``camera_start - start``
    #: (SPEC.md 2.2, 9.1); None when that segment had no camera time (no RTCP sender report)
    camera_clock_offset_s: float | None = None


class CameraState(StrEnum):
    """What a camera's recorder is doing."""

    STARTING = "starting"  # ffmpeg started, no media yet
    RECORDING = "recording"  # media is arriving
    RECONNECTING = "reconnecting"  # waiting to retry after the camera went away
    FAILED = "failed"  # repeated failures that do not look like a passing outage; still retried, slower
    SPOOL_FULL = "spool_full"  # paused until the spool drains
    STOPPED = "stopped"  # the recorder was told to stop


@dataclass(frozen=True)
class CameraStatus:
    """One camera at one moment.

    ``not_recording_since``: start of the current open gap (None while recording). ``bitrate_bps``
    from the newest finished segment (bytes * 8 / media seconds). ``last_segment_at``: wall clock
    when the newest finished segment was closed.
    """

    camera_id: str
    url: str
    state: CameraState
    state_since: dt.datetime
    pid: int | None
    run_id: str | None
    restarts: int
    stalls: int
    last_segment_at: dt.datetime | None
    bitrate_bps: float | None
    not_recording_since: dt.datetime | None
    last_exit: str | None
    input_streams: tuple[str, ...]
    spool: SpoolUsage
    ingest: IngestStatus
    segment_seconds: float = 0.0
    watched_since: dt.datetime | None = None  # when this recorder process began recording the camera

    @property
    def segments_ingested(self) -> int:
        """Segments stored and recorded by the sink."""
        return self.ingest.ingested

    @property
    def spool_backlog(self) -> int:
        """Finished segments waiting to be stored."""
        return self.ingest.backlog_files


@dataclass(frozen=True)
class RecorderStatus:
    """Every camera plus the store's reachability."""

    taken_at: dt.datetime
    store_available: bool
    store_error: str | None
    cameras: tuple[CameraStatus, ...]

    @property
    def spool_alarm(self) -> bool:
        """Some camera's spool is above its alarm threshold."""
        return any(c.spool.alarm for c in self.cameras)

    def camera(self, camera_id: str) -> CameraStatus:
        """The status of one camera. Raises :class:`KeyError` for an unknown id."""
        for cam in self.cameras:
            if cam.camera_id == camera_id:
                return cam
        raise KeyError(camera_id)


def _time(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(value)) if value else None


def status_from_published(data: Mapping[str, Any]) -> RecorderStatus:
    """The snapshot ``archive up`` publishes (``dataclasses.asdict`` of a :class:`RecorderStatus`
    as JSON, archive.cli.up) read back. Raises KeyError, TypeError or ValueError when it is not one."""
    cameras = []
    for cam in data["cameras"]:
        ingest = dict(cam["ingest"])
        for key in ("last_ingested_at", "last_segment_end", "oldest_waiting_at"):
            ingest[key] = _time(ingest.get(key))
        cameras.append(CameraStatus(
            camera_id=str(cam["camera_id"]), url=str(cam["url"]), state=CameraState(cam["state"]),
            state_since=dt.datetime.fromisoformat(str(cam["state_since"])), pid=cam.get("pid"),
            run_id=cam.get("run_id"), restarts=int(cam["restarts"]), stalls=int(cam["stalls"]),
            last_segment_at=_time(cam.get("last_segment_at")), bitrate_bps=cam.get("bitrate_bps"),
            not_recording_since=_time(cam.get("not_recording_since")), last_exit=cam.get("last_exit"),
            input_streams=tuple(cam.get("input_streams") or ()), spool=SpoolUsage(**cam["spool"]),
            ingest=IngestStatus(**ingest), segment_seconds=float(cam.get("segment_seconds") or 0.0),
            watched_since=_time(cam.get("watched_since"))))  # fmt: skip
    return RecorderStatus(taken_at=dt.datetime.fromisoformat(str(data["taken_at"])),
                          store_available=bool(data["store_available"]), store_error=data.get("store_error"),
                          cameras=tuple(cameras))  # fmt: skip
