"""Adapters from other parts' status to ``/health`` checks and ``/metrics`` samples.

Each returns plain callables for :class:`archive.api.deps.ApiDeps` (``health_checks``,
``metric_sources``), so the API never imports the recorder or the scheduler itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from archive.api.ports import CheckResult, HealthCheck, Metric, MetricSource
from archive.errors import ERRORS, ArchiveError
from archive.ledger.node_report import NodeReport
from archive.ledger.witnessing import WitnessHealth
from archive.recorder.health import HealthLimits, assess
from archive.recorder.status import CameraState, CameraStatus, RecorderStatus
from archive.storage.base import ObjectStore

__all__ = ["check_metrics", "ledger_metrics", "node_metrics", "nodes_check", "protection_metrics", "recorder_check",
           "recorder_metrics", "storage_check", "witness_metrics"]


class _CachedPing:
    def __init__(self, store: ObjectStore, every_s: float, writes: Callable[[], RecorderStatus] | None) -> None:
        self._store, self._every, self._writes = store, every_s, writes
        self._lock = threading.Lock()
        self._at = -every_s
        self._last = CheckResult("storage", True, "not checked yet")

    def __call__(self) -> CheckResult:
        with self._lock:
            if time.monotonic() - self._at < self._every:
                return self._last
            try:
                self._store.ping()
                self._last = self._write_path()
            except ERRORS as exc:
                self._last = CheckResult("storage", False, str(exc))
            self._at = time.monotonic()
            return self._last


    def _write_path(self) -> CheckResult:
        """After a ping that answered: not ok (but not critical: evidence can still be read) while the
        recorder's uploads fail. Measured on the replicated cluster with two of three volume servers
        down: the ping (a bucket list) answers, every PUT times out."""
        st = self._writes() if self._writes is not None else None
        if st is not None and not st.store_available:
            return CheckResult("storage", False, "object store answers, but takes no write: the recorder's uploads "
                               "fail and segments wait in the spool", critical=False)  # fmt: skip
        return CheckResult("storage", True, "object store answers")


def storage_check(store: ObjectStore, every_s: float = 10.0,
                  writes: Callable[[], RecorderStatus] | None = None) -> HealthCheck:  # fmt: skip
    """Pings the store at most every ``every_s`` seconds (cached in between); with ``writes`` (the
    recorder's status) also not ok, without a 503, while the recorder's uploads to it fail."""
    return _CachedPing(store, every_s, writes)


def recorder_check(status: Callable[[], RecorderStatus], limits: HealthLimits | None = None) -> HealthCheck:
    """Not critical (a camera failing is an alarm, the API still serves evidence: ``/health`` stays
    200), but ``ok`` is false with one sentence per problem, camera by name (:func:`assess`)."""
    lim = limits or HealthLimits()

    def check() -> CheckResult:
        st = status()
        health = assess(st, lim)
        counts = _by_state(st)
        states = ", ".join(f"{n} {state.value}" for state, n in counts.items() if n) or "none"
        detail = (f"{len(st.cameras)} cameras ({states}); {len(health.problems)} problem(s)"
                  " (named per camera behind authentication: /api/v1/health)")  # counts only: /health is open
        per_camera = {c.camera_id: c for c in health.cameras}

        def said(cam: CameraStatus) -> str:
            h, offset = per_camera.get(cam.camera_id), cam.ingest.camera_clock_offset_s
            state = cam.state.value
            if offset is not None:  # camera minus recorder, from its RTCP sender reports (SPEC.md 2.2)
                state += f" (camera clock {offset:+.3f} s from the recorder's)"
            return state if h is None or h.ok else f"{state}: {'; '.join(h.problems)}"

        named = tuple((c.camera_id, said(c)) for c in st.cameras)
        return CheckResult("recorder", health.ok, detail, critical=False, cameras=named)

    return check


def _by_state(st: RecorderStatus) -> dict[CameraState, int]:
    counts = dict.fromkeys(CameraState, 0)
    for c in st.cameras:
        counts[c.state] += 1
    return counts


def recorder_metrics(status: Callable[[], RecorderStatus], limits: HealthLimits | None = None) -> MetricSource:
    """Cameras by state (open); per-camera state, segments, gaps, spool use, seconds since the last
    segment, ingest backlog, sink failures, health (label ``camera``: authenticated only,
    :data:`archive.api.metrics.PRIVATE_LABELS`; rows from :func:`assess`); store reachability."""
    lim = limits or HealthLimits()

    def samples() -> Iterable[Metric]:
        st = status()
        health = {c.camera_id: c for c in assess(st, lim).cameras}
        yield Metric("archive_recorder_store_up", "1 when the recorder reaches the object store", "gauge",
                     1 if st.store_available else 0)  # fmt: skip
        for state, n in _by_state(st).items():
            yield Metric("archive_recorder_cameras", "cameras by recorder state", "gauge", n,
                         (("state", state.value),))  # fmt: skip
        for c in st.cameras:
            lab, h = (("camera", c.camera_id),), health[c.camera_id]
            yield Metric("archive_recorder_recording", "1 while the camera's media is arriving", "gauge",
                         1 if c.state is CameraState.RECORDING else 0, lab)  # fmt: skip
            yield Metric("archive_recorder_segments_total", "segments stored and logged", "counter", c.ingest.ingested,
                         lab)  # fmt: skip
            yield Metric("archive_recorder_gaps_total", "gaps logged", "counter", c.ingest.gaps, lab)
            yield Metric("archive_recorder_restarts_total", "recorder restarts", "counter", c.restarts, lab)
            yield Metric("archive_recorder_spool_bytes", "bytes waiting in the spool", "gauge", c.spool.bytes_used, lab)
            yield Metric("archive_recorder_spool_fraction", "spool use against its limit", "gauge", c.spool.fraction,
                         lab)  # fmt: skip
            yield Metric("archive_recorder_spool_alarm", "1 while the spool is above its alarm threshold", "gauge",
                         1 if c.spool.alarm else 0, lab)  # fmt: skip
            yield Metric("archive_camera_seconds_since_last_segment", "seconds since the camera's newest segment "
                         "closed (since the recorder started, when none)", "gauge", h.seconds_since_last_segment,
                         lab)  # fmt: skip
            yield Metric("archive_camera_segment_seconds", "the camera's segment length", "gauge", c.segment_seconds,
                         lab)  # fmt: skip
            yield Metric("archive_ingest_backlog_segments", "finished segments waiting to be stored", "gauge",
                         h.backlog_segments, lab)  # fmt: skip
            yield Metric("archive_ingest_backlog_oldest_seconds", "age of the oldest segment waiting to be stored",
                         "gauge", h.backlog_oldest_seconds, lab)  # fmt: skip
            yield Metric("archive_sink_failures_total", "commits the catalog / evidence log refused (retried)",
                         "counter", h.sink_failures, lab)  # fmt: skip
            yield Metric("archive_camera_healthy", "1 when the recorder sees no problem with the camera", "gauge",
                         1 if h.ok else 0, lab)  # fmt: skip
            offset = c.ingest.camera_clock_offset_s
            if offset is not None:  # absent while the camera sends no RTCP sender report (SPEC.md 2.2)
                yield Metric("archive_camera_clock_offset_seconds", "the camera's clock minus the recorder's, from "
                             "its RTCP sender reports (newest segment's camera_start - start)", "gauge", offset,
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


def protection_metrics(protections: Callable[[], Sequence[Mapping[str, object]]]) -> MetricSource:
    """``archive_protection_ok{check=...}`` (1/0, open) for each protection the running service
    checked at its start (``archive up`` publishes them: storage.bypass, file modes, ...)."""

    def samples() -> Iterable[Metric]:
        for p in protections():
            yield Metric("archive_protection_ok", "1 when the protection was on at the service's start", "gauge",
                         1 if p.get("ok") else 0, (("check", str(p.get("name"))),))  # fmt: skip

    return samples


def check_metrics(name: str, check: HealthCheck) -> MetricSource:
    """``archive_<name>_up`` (1/0) from a health check (e.g. the cached storage ping)."""

    def samples() -> Iterable[Metric]:
        yield Metric(f"archive_{name}_up", f"1 when the {name} check passes", "gauge", 1 if check().ok else 0)

    return samples


def witness_metrics(report: Callable[[], Sequence[WitnessHealth]]) -> MetricSource:
    """Per witness: the largest size it cosigned, seconds since its last cosignature (absent
    before the first), logs behind, logs whose last submission failed, failures so far, healthy."""

    def samples() -> Iterable[Metric]:
        try:
            witnesses = report()
        except ArchiveError:
            return
        for h in witnesses:
            lab = (("witness", h.label),)
            yield Metric("archive_witness_cosigned_size", "largest tree size the witness cosigned (any camera log)",
                         "gauge", h.last_size, lab)  # fmt: skip
            if h.age_s is not None:
                yield Metric("archive_witness_cosignature_age_seconds", "seconds since the witness's last stored "
                             "cosignature", "gauge", round(h.age_s, 3), lab)  # fmt: skip
            yield Metric("archive_witness_logs_behind", "camera logs whose latest checkpoint the witness has not "
                         "cosigned", "gauge", h.behind, lab)  # fmt: skip
            yield Metric("archive_witness_failing_logs", "camera logs whose last submission to the witness failed",
                         "gauge", h.failures, lab)  # fmt: skip
            yield Metric("archive_witness_failures_total", "failed submissions to the witness since the service "
                         "started", "counter", h.failures_total, lab)  # fmt: skip
            yield Metric("archive_witness_state_lost_logs", "camera logs for which the witness answered a smaller "
                         "size than it cosigned before (it lost its state)", "gauge", h.state_lost, lab)  # fmt: skip
            yield Metric("archive_witness_healthy", "1 when the witness cosigns (no failing log, no lost state, "
                         "cosigned once)",
                         "gauge", 1 if h.ok else 0, lab)  # fmt: skip

    return samples


def nodes_check(report: Callable[[], NodeReport]) -> HealthCheck:
    """The recorder nodes (``archive up --node``): not critical (the live nodes take a dead node's
    cameras over), ``ok`` false naming each dead node (node names are not camera ids: open)."""

    def check() -> CheckResult:
        try:
            rep = report()
        except ArchiveError as exc:
            return CheckResult("nodes", False, f"cannot read the recorder nodes: {exc}", critical=False)
        live = sum(1 for n in rep.nodes if n.live)
        problems = rep.problems()
        detail = f"{live} of {len(rep.nodes)} nodes live" + (f"; {'; '.join(problems)}" if problems else "")
        return CheckResult("nodes", not problems, detail, critical=False)

    return check


def node_metrics(report: Callable[[], NodeReport]) -> MetricSource:
    """Per node (label ``node``, open): ``archive_node_up`` (1 live, 0 dead or stopped),
    ``archive_node_cameras`` (cameras whose live lease it holds); ``archive_lease_takeovers_total``
    (changes of a camera's lease holder so far: handovers, failovers, restarts)."""

    def samples() -> Iterable[Metric]:
        try:
            rep = report()
        except ArchiveError:
            return
        for n in rep.nodes:
            lab = (("node", n.name),)
            yield Metric("archive_node_up", "1 while the recorder node heartbeats within its lease", "gauge",
                         1 if n.live else 0, lab)  # fmt: skip
            yield Metric("archive_node_cameras", "cameras whose live lease the node holds", "gauge", len(n.cameras),
                         lab)  # fmt: skip
        yield Metric("archive_lease_takeovers_total", "changes of a camera lease's holder (writer-claim epochs "
                     "beyond the first)", "counter", rep.takeovers)  # fmt: skip

    return samples


def node_local_metrics(node: Callable[[], Mapping[str, object]]) -> MetricSource:
    """What this node published about itself (the ``node`` part of its status file):
    ``archive_node_fenced_cameras`` (cameras whose writer claim another node took over while this one
    recorded them), ``archive_node_camera_fenced`` per such camera, and per camera this node does not
    record whose spool still holds segment files (never stored: :mod:`archive.recorder.leftover`)
    ``archive_node_leftover_spool_files`` and ``archive_node_leftover_spool_bytes`` (label ``camera``)."""

    def samples() -> Iterable[Metric]:
        data = node()
        fenced, left = data.get("fenced"), data.get("leftover_spool")
        fenced = fenced if isinstance(fenced, dict) else {}
        yield Metric("archive_node_fenced_cameras", "cameras fenced on this node (their claim was taken over)",
                     "gauge", len(fenced))  # fmt: skip
        for camera_id in sorted(fenced):
            yield Metric("archive_node_camera_fenced", "1 while the camera is fenced on this node", "gauge", 1,
                         (("camera", str(camera_id)),))  # fmt: skip
        for entry in left if isinstance(left, list) else []:
            if not isinstance(entry, dict):
                continue
            lab = (("camera", str(entry.get("camera_id"))),)
            yield Metric("archive_node_leftover_spool_files", "segment files this node keeps (never stored) of a "
                         "camera it does not record", "gauge", int(entry.get("files") or 0), lab)  # fmt: skip
            yield Metric("archive_node_leftover_spool_bytes", "bytes of those files", "gauge",
                         int(entry.get("bytes") or 0), lab)  # fmt: skip

    return samples
