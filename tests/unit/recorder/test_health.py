"""The recorder's health assessment: which states are problems, the sentences, the metrics."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

from archive.api.metrics import render
from archive.api.ports import CheckResult
from archive.api.status import check_metrics, recorder_check, recorder_metrics, witness_metrics
from archive.ledger.witnessing import WitnessHealth
from archive.recorder.health import HealthLimits, assess
from archive.recorder.spool import SpoolUsage
from archive.recorder.status import CameraState, CameraStatus, IngestStatus, RecorderStatus

T0 = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
ALERTS = Path(__file__).parents[3] / "ops" / "alerts.yml"


def camera(camera_id: str = "cam-1", **changes: object) -> CameraStatus:
    cam = CameraStatus(
        camera_id=camera_id, url="rtsp://cam/1", state=CameraState.RECORDING, state_since=T0, pid=1, run_id="r",
        restarts=1, stalls=0, last_segment_at=T0, bitrate_bps=2e6, not_recording_since=None, last_exit=None,
        input_streams=(), spool=SpoolUsage(camera_id, 1000, 1, 10**9, 8 * 10**8), ingest=IngestStatus(camera_id),
        segment_seconds=4.0, watched_since=T0 - dt.timedelta(hours=1),
    )  # fmt: skip
    return replace(cam, **changes)  # type: ignore[arg-type]


def status(*cams: CameraStatus, at: float = 0.0, store: bool = True) -> RecorderStatus:
    return RecorderStatus(T0 + dt.timedelta(seconds=at), store, None if store else "connection refused", cams)


def test_a_recording_camera_is_well_until_three_segment_lengths_pass_without_a_segment() -> None:
    limits = HealthLimits()
    assert assess(status(camera(), at=12.0), limits).ok
    gone = camera(state=CameraState.RECONNECTING, last_exit="camera_unreachable: connection refused by 10.0.0.5:554 "
                  "(4 attempts)")  # fmt: skip
    health = assess(status(gone, at=12.5), limits)
    (problem,) = health.problems
    assert problem == ("camera cam-1 is not recording: no segment since 2025-03-01 12:00:00Z, 12 s (limit 12 s); "
                       "reconnecting: camera_unreachable: connection refused by 10.0.0.5:554 (4 attempts)")  # fmt: skip
    assert health.cameras[0].seconds_since_last_segment == 12.5


def test_a_camera_that_never_recorded_counts_from_the_recorder_start() -> None:
    never = camera(last_segment_at=None, watched_since=T0, state=CameraState.STARTING)
    assert assess(status(never, at=10), HealthLimits()).ok
    (problem,) = assess(status(never, at=20), HealthLimits()).problems
    assert "no segment yet since the recorder started at 2025-03-01 12:00:00Z, 20 s" in problem


def test_backlog_sink_spool_and_store_problems_name_the_camera() -> None:
    waiting = IngestStatus("cam-2", backlog_files=31, oldest_waiting_at=T0 - dt.timedelta(seconds=100))
    old = IngestStatus("cam-3", backlog_files=2, oldest_waiting_at=T0 - dt.timedelta(seconds=301))
    sink = IngestStatus("cam-4", sink_failures=7, sink_retrying=2,
                        last_error="sink: CatalogError('database is locked')")  # fmt: skip
    full = SpoolUsage("cam-5", 9 * 10**8, 100, 10**9, 8 * 10**8)
    health = assess(status(camera("cam-2", ingest=waiting), camera("cam-3", ingest=old), camera("cam-4", ingest=sink),
                           camera("cam-5", spool=full), store=False), HealthLimits())  # fmt: skip
    assert health.problems == (
        "object store unreachable: connection refused",
        "camera cam-2: 31 segments wait to be stored (limit 30)",
        "camera cam-3: its oldest segment waiting to be stored is 301 s old (limit 300 s)",
        "camera cam-4: the catalog / evidence log failed 2 time(s) in a row and is retried: sink: "
        "CatalogError('database is locked')",
        "camera cam-5: spool at 90% of its 1000000000 bytes (alarm at 800000000 bytes)",
    )
    assert [c.ok for c in health.cameras] == [False, False, False, False]


def test_the_api_check_and_metrics_tell_the_same_story() -> None:
    st = status(camera("cam-a"), camera("cam-b", last_segment_at=T0 - dt.timedelta(seconds=60)), at=1.0)
    result = recorder_check(lambda: st)()
    assert isinstance(result, CheckResult) and not result.ok and not result.critical
    # the open detail counts (no camera id: /health is unauthenticated); the names and sentences are
    # the check's per-camera part, served only behind authentication (/api/v1/health)
    assert "1 problem(s)" in result.detail and "cam-a" not in result.detail and "cam-b" not in result.detail
    named = dict(result.cameras)
    assert "camera cam-b is not recording" in named["cam-b"] and named["cam-a"] == "recording"
    text = render(recorder_metrics(lambda: st)())
    assert 'archive_camera_seconds_since_last_segment{camera="cam-b"} 61' in text
    assert 'archive_camera_healthy{camera="cam-a"} 1' in text and 'archive_camera_healthy{camera="cam-b"} 0' in text
    assert 'archive_ingest_backlog_segments{camera="cam-a"} 0' in text
    assert 'archive_sink_failures_total{camera="cam-a"} 0' in text


def test_every_metric_the_alert_rules_use_is_exported() -> None:
    st = status(camera())
    ok = CheckResult("storage", True, "")
    witness = WitnessHealth("w1", "https://witness.example", 1, 0, 5, 1.0, 0, 0)
    text = render([*recorder_metrics(lambda: st)(), *check_metrics("storage", lambda: ok)(),
                   *witness_metrics(lambda: [witness])()])  # fmt: skip
    exported = set(re.findall(r"^([a-z_]+)[{ ]", text, re.M))
    used = set(re.findall(r"\b(archive_[a-z_]+)\b", ALERTS.read_text()))
    assert used and used <= exported, used - exported


def test_the_camera_clock_offset_is_a_gauge_and_in_the_named_detail_only_when_the_camera_sends_it() -> None:
    behind = camera("cam-behind", ingest=IngestStatus("cam-behind", camera_clock_offset_s=-3600.0755))
    st = status(behind, camera("cam-nosr"))
    named = dict(recorder_check(lambda: st)().cameras)
    assert named == {"cam-behind": "recording (camera clock -3600.075 s from the recorder's)", "cam-nosr": "recording"}
    text = render(recorder_metrics(lambda: st)())
    assert 'archive_camera_clock_offset_seconds{camera="cam-behind"} -3600.0755' in text
    assert 'archive_camera_clock_offset_seconds{camera="cam-nosr"}' not in text
