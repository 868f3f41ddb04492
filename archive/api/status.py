"""Adapters from other parts' status to ``/health`` checks and ``/metrics`` samples.

Each returns plain callables for :class:`archive.api.deps.ApiDeps` (``health_checks``,
``metric_sources``), so the API never imports the recorder or the scheduler itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from archive.api.ports import CheckResult, HealthCheck, Metric, MetricSource
from archive.errors import ERRORS
from archive.recorder.status import CameraState, RecorderStatus
from archive.storage.base import ObjectStore

__all__ = ["check_metrics", "ledger_metrics", "recorder_check", "recorder_metrics", "storage_check"]


class _CachedPing:
    def __init__(self, store: ObjectStore, every_s: float) -> None:
        self._store, self._every = store, every_s
        self._lock = threading.Lock()
        self._at = -every_s
        self._last = CheckResult("storage", True, "not checked yet")

    def __call__(self) -> CheckResult:
        with self._lock:
            if time.monotonic() - self._at < self._every:
                return self._last
            try:
                self._store.ping()
                self._last = CheckResult("storage", True, "object store answers")
            except ERRORS as exc:
                self._last = CheckResult("storage", False, str(exc))
            self._at = time.monotonic()
            return self._last


def storage_check(store: ObjectStore, every_s: float = 10.0) -> HealthCheck:
    """Pings the store at most every ``every_s`` seconds (cached in between)."""
    return _CachedPing(store, every_s)


def recorder_check(status: Callable[[], RecorderStatus]) -> HealthCheck:
    """Not critical: cameras failing is an alarm, the API still serves evidence."""

    def check() -> CheckResult:
        st = status()
        bad = [c.camera_id for c in st.cameras if c.state in (CameraState.FAILED, CameraState.SPOOL_FULL)]
        ok = st.store_available and not bad and not st.spool_alarm
        counts = _by_state(st)
        states = ", ".join(f"{n} {state.value}" for state, n in counts.items() if n) or "none"
        detail = f"{len(st.cameras)} cameras ({states}), store " + (
            "up" if st.store_available else f"down ({st.store_error})")  # counts only: /health is open
        return CheckResult("recorder", ok, detail, critical=False,
                           cameras=tuple((c.camera_id, c.state.value) for c in st.cameras))  # fmt: skip

    return check


def _by_state(st: RecorderStatus) -> dict[CameraState, int]:
    counts = dict.fromkeys(CameraState, 0)
    for c in st.cameras:
        counts[c.state] += 1
    return counts


def recorder_metrics(status: Callable[[], RecorderStatus]) -> MetricSource:
    """Cameras by state (open); per-camera state, segments, gaps, spool use (label ``camera``:
    authenticated only, :data:`archive.api.metrics.PRIVATE_LABELS`); store reachability."""

    def samples() -> Iterable[Metric]:
        st = status()
        yield Metric("archive_recorder_store_up", "1 when the recorder reaches the object store", "gauge",
                     1 if st.store_available else 0)  # fmt: skip
        for state, n in _by_state(st).items():
            yield Metric("archive_recorder_cameras", "cameras by recorder state", "gauge", n,
                         (("state", state.value),))  # fmt: skip
        for c in st.cameras:
            lab = (("camera", c.camera_id),)
            yield Metric("archive_recorder_recording", "1 while the camera's media is arriving", "gauge",
                         1 if c.state is CameraState.RECORDING else 0, lab)  # fmt: skip
            yield Metric("archive_recorder_segments_total", "segments stored and logged", "counter", c.ingest.ingested,
                         lab)  # fmt: skip
            yield Metric("archive_recorder_gaps_total", "gaps logged", "counter", c.ingest.gaps, lab)
            yield Metric("archive_recorder_restarts_total", "recorder restarts", "counter", c.restarts, lab)
            yield Metric("archive_recorder_spool_bytes", "bytes waiting in the spool", "gauge", c.spool.bytes_used, lab)
            yield Metric("archive_recorder_spool_fraction", "spool use against its limit", "gauge", c.spool.fraction,
                         lab)  # fmt: skip

    return samples


def ledger_metrics(log_sizes: Callable[[], dict[str, int]]) -> MetricSource:
    """Number of camera logs (open); entries per camera log (``log_sizes`` = camera id ->
    entries; label ``camera``: authenticated only)."""

    def samples() -> Iterable[Metric]:
        sizes = log_sizes()
        yield Metric("archive_logs", "camera evidence logs", "gauge", len(sizes))
        for cam, size in sorted(sizes.items()):
            yield Metric("archive_log_entries", "entries in the camera's evidence log", "gauge", size,
                         (("camera", cam),))  # fmt: skip

    return samples


def check_metrics(name: str, check: HealthCheck) -> MetricSource:
    """``archive_<name>_up`` (1/0) from a health check (e.g. the cached storage ping)."""

    def samples() -> Iterable[Metric]:
        yield Metric(f"archive_{name}_up", f"1 when the {name} check passes", "gauge", 1 if check().ok else 0)

    return samples
