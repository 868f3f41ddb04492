"""`archive status` as a person (or a monitoring script) runs it against the status file a service
publishes: exit 1 with one sentence per problem, exit 1 (not 2) when no service runs, no
traceback when its reader goes away."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from archive.recorder.health import HealthLimits
from archive.recorder.spool import SpoolUsage
from archive.recorder.status import CameraState, CameraStatus, IngestStatus, RecorderStatus
from archive.recorder.status_file import write_status_file

ARCHIVE = Path(sys.executable).parent / "archive"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "archive.toml"
    if not cfg.exists():
        cfg.write_text('[paths]\ndata_dir = "state"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    return subprocess.run([str(ARCHIVE), "--config", str(cfg), *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120, check=False)  # fmt: skip


def publish(tmp_path: Path, *, last_segment_ago: float, protections: tuple[dict[str, object], ...] = ()) -> None:
    now = dt.datetime.now(dt.UTC)
    cam = CameraStatus(
        camera_id="dishub-001", url="rtsp://cam/1", state=CameraState.RECONNECTING, state_since=now, pid=None,
        run_id=None, restarts=3, stalls=0, last_segment_at=now - dt.timedelta(seconds=last_segment_ago),
        bitrate_bps=2e6, not_recording_since=now, last_exit="camera_unreachable: connection refused by "
        "10.21.1.11:554 (9 attempts)", input_streams=(), spool=SpoolUsage("dishub-001", 0, 0, 10**9, 8 * 10**8),
        ingest=IngestStatus("dishub-001", ingested=12), segment_seconds=10.0, watched_since=now,
    )  # fmt: skip
    write_status_file(tmp_path / "state" / "run" / "status.json", RecorderStatus(now, True, None, (cam,)),
                      HealthLimits(), protections=protections)  # fmt: skip


def test_status_without_a_running_service_exits_1_with_one_sentence(tmp_path: Path) -> None:
    r = run(tmp_path, "status")
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "the service is not running" in r.stderr and "Traceback" not in r.stderr


def test_a_camera_not_recording_makes_status_exit_1_naming_it(tmp_path: Path) -> None:
    publish(tmp_path, last_segment_ago=5)
    well = run(tmp_path, "status")
    assert well.returncode == 0 and "no problem" in well.stdout, well.stdout + well.stderr
    publish(tmp_path, last_segment_ago=31)  # more than 3 segments of 10 s
    r = run(tmp_path, "status")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "PROBLEM: camera dishub-001 is not recording: no segment since" in r.stdout
    assert "(limit 30 s); reconnecting: camera_unreachable: connection refused by 10.21.1.11:554 (9 attempts)" in (
        r.stdout
    )
    j = run(tmp_path, "status", "--json")
    data = json.loads(j.stdout)
    assert j.returncode == 1 and data["ok"] is False and len(data["problems"]) == 1
    assert data["health"][0]["camera_id"] == "dishub-001" and data["health"][0]["seconds_since_last_segment"] >= 31


def test_status_piped_to_a_reader_that_went_away_prints_no_traceback(tmp_path: Path) -> None:
    publish(tmp_path, last_segment_ago=31)
    (tmp_path / "archive.toml").write_text('[paths]\ndata_dir = "state"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    proc = subprocess.Popen([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "status"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `archive status | head -0`: the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141  # README: 141 when the reader went away (128 + SIGPIPE), silently
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_a_protection_off_at_the_start_is_a_status_problem_and_a_metric(tmp_path: Path) -> None:
    """``archive up`` publishes its protection checks (storage.bypass, ...): one that is off is a
    problem of ``archive status`` and ``archive_protection_ok`` 0 in the metrics."""
    from archive.api.status import protection_metrics

    off = {"name": "storage.bypass", "ok": False, "detail": "the service identity CAN bypass GOVERNANCE retention"}
    on = {"name": "storage.lock_mode", "ok": True, "detail": "GOVERNANCE"}
    publish(tmp_path, last_segment_ago=5, protections=(on,))
    assert run(tmp_path, "status").returncode == 0
    publish(tmp_path, last_segment_ago=5, protections=(on, off))
    r = run(tmp_path, "status")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "PROBLEM: protection storage.bypass is off: the service identity CAN bypass GOVERNANCE retention" in r.stdout
    doc = json.loads(run(tmp_path, "status", "--json").stdout)
    assert {p["name"]: p["ok"] for p in doc["protections"]} == {"storage.lock_mode": True, "storage.bypass": False}
    samples = {dict(m.labels)["check"]: m.value for m in protection_metrics(lambda: doc["protections"])()}
    assert samples == {"storage.lock_mode": 1, "storage.bypass": 0}
