"""Is the recorder well? One assessment of a :class:`RecorderStatus` for every reader.

``archive status`` (from the status file the service writes), ``/health`` and ``/metrics`` all
read :func:`assess`, so they tell the same story; the per-camera rows are in one place
(:attr:`RecorderHealth.cameras`) for a caller that must filter which cameras a reader may see.

A problem is one sentence naming the camera:

* not recording: no new segment for more than ``not_recording_segments`` segment lengths (since
  the recorder started watching it, when it never made one), with what the recorder saw last;
* ingest backlog: more than ``backlog_segments`` finished segments waiting to be stored, or the
  oldest waiting longer than ``backlog_age_seconds``;
* sink failing: the catalog / evidence log refused the last commit(s) and they are being retried;
* spool alarm: the spool is above its alarm threshold;
* and, for the whole recorder, the object store unreachable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from archive.config import RecorderConfig
from archive.errors import ConfigError
from archive.recorder.status import CameraStatus, RecorderStatus
from archive.recorder.timeline import without_urls


@dataclass(frozen=True)
class HealthLimits:
    """Where a camera becomes a problem. Raises :class:`ConfigError` for non-positive limits."""

    not_recording_segments: float = 3.0
    backlog_segments: int = 30
    backlog_age_seconds: float = 300.0

    def __post_init__(self) -> None:
        if min(self.not_recording_segments, self.backlog_segments, self.backlog_age_seconds) <= 0:
            raise ConfigError("not_recording_segments, backlog_segments and backlog_age_seconds must be positive")

    @classmethod
    def from_config(cls, cfg: RecorderConfig) -> HealthLimits:
        """The limits of the ``[recorder]`` section. Raises :class:`ConfigError`."""
        return cls(cfg.alert_not_recording_segments, cfg.alert_backlog_segments, cfg.alert_backlog_age_seconds)


@dataclass(frozen=True)
class CameraHealth:
    """One camera's health numbers (the ``/metrics`` samples) and its problems."""

    camera_id: str
    seconds_since_last_segment: float
    backlog_segments: int
    backlog_oldest_seconds: float
    sink_failures: int
    problems: tuple[str, ...]
    kinds: tuple[str, ...] = ()  # one per problem: not_recording, backlog, sink_failing, spool_alarm

    @property
    def ok(self) -> bool:
        """No problem."""
        return not self.problems


@dataclass(frozen=True)
class RecorderHealth:
    """Every camera's health plus the recorder-wide problems."""

    cameras: tuple[CameraHealth, ...]
    store_problem: str | None

    @property
    def problems(self) -> tuple[str, ...]:
        """Every problem, the store's first."""
        head = (self.store_problem,) if self.store_problem else ()
        return head + tuple(p for c in self.cameras for p in c.problems)

    @property
    def ok(self) -> bool:
        """No problem anywhere."""
        return not self.problems

    def state(self) -> dict[tuple[str, str], str]:
        """(subject, kind) -> sentence of every problem: a change of its keys is a change of health
        (the sentences' numbers grow while the same problem lasts)."""
        out = {("recorder", "store_down"): self.store_problem} if self.store_problem else {}
        for cam in self.cameras:
            out.update({(cam.camera_id, kind): text for kind, text in zip(cam.kinds, cam.problems, strict=True)})
        return out


def _brief(text: str, limit: int = 300) -> str:
    """The first line of an error message, without URLs, at most ``limit`` characters."""
    line = without_urls(text).strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _age(now: dt.datetime, then: dt.datetime | None) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())


def _camera(cam: CameraStatus, limits: HealthLimits, now: dt.datetime) -> CameraHealth:
    since = _age(now, cam.last_segment_at or cam.watched_since)
    waiting = cam.ingest.backlog_files
    oldest = _age(now, cam.ingest.oldest_waiting_at) if waiting else 0.0
    problems: list[str] = []
    kinds: list[str] = []
    allowed = limits.not_recording_segments * cam.segment_seconds
    if cam.segment_seconds > 0 and since > allowed:
        what = "no segment since" if cam.last_segment_at else "no segment yet since the recorder started at"
        then = cam.last_segment_at or cam.watched_since
        seen = f"; {cam.state}: {_brief(cam.last_exit)}" if cam.last_exit else f"; {cam.state}"
        problems.append(f"camera {cam.camera_id} is not recording: {what} {then:%Y-%m-%d %H:%M:%S}Z, "
                        f"{since:.0f} s (limit {allowed:.0f} s){seen}")  # fmt: skip
        kinds.append("not_recording")
    if waiting > limits.backlog_segments:
        problems.append(f"camera {cam.camera_id}: {waiting} segments wait to be stored (limit "
                        f"{limits.backlog_segments})")  # fmt: skip
        kinds.append("backlog")
    elif waiting and oldest > limits.backlog_age_seconds:
        problems.append(f"camera {cam.camera_id}: its oldest segment waiting to be stored is {oldest:.0f} s old "
                        f"(limit {limits.backlog_age_seconds:.0f} s)")  # fmt: skip
        kinds.append("backlog")
    if cam.ingest.sink_retrying:
        problems.append(f"camera {cam.camera_id}: the catalog / evidence log failed {cam.ingest.sink_retrying} "
                        f"time(s) in a row and is retried: {_brief(cam.ingest.last_error or '')}")  # fmt: skip
        kinds.append("sink_failing")
    if cam.spool.alarm:
        problems.append(f"camera {cam.camera_id}: spool at {cam.spool.fraction:.0%} of its {cam.spool.max_bytes} "
                        f"bytes (alarm at {cam.spool.alarm_bytes} bytes)")  # fmt: skip
        kinds.append("spool_alarm")
    return CameraHealth(cam.camera_id, since, waiting, oldest, cam.ingest.sink_failures, tuple(problems), tuple(kinds))


def assess(status: RecorderStatus, limits: HealthLimits, now: dt.datetime | None = None) -> RecorderHealth:
    """The problems of ``status`` at ``now`` (default: when it was taken) (pure)."""
    at = now or status.taken_at
    store = None if status.store_available else f"object store unreachable: {status.store_error or 'no answer'}"
    return RecorderHealth(tuple(_camera(c, limits, at) for c in status.cameras), store)
