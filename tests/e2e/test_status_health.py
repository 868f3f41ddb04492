"""`archive up` recording a real simulated camera into a SeaweedFS of the test's own: a camera not
recording and an ingest backlog (the store stopped) each make `archive status` exit 1 with a
sentence naming the camera, `/health` report it with ok=false and `/metrics` show it; once it
recovers the status is 0 again. With the service down, `archive status` exits 1; piped into a
reader that went away it prints no traceback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.cameras import SimCameraFactory
from tests.fixtures.ports import free_port
from tests.unit.recorder.test_notify import Hook

ARCHIVE = Path(sys.executable).parent / "archive"
CAM = "e2e-cam"


def cli(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    return subprocess.run([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), *args], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=timeout, check=False)  # fmt: skip


def poll(what: str, timeout: float, probe: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


TOKEN: list[str] = []  # an auditor's bearer token: the per-camera status is served behind authentication


def _get(url: str) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN[0]}"} if TOKEN else {})


def get_health(port: int, path: str = "/api/v1/health") -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(_get(f"http://127.0.0.1:{port}{path}"), timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503: a critical check (catalog, storage) failed
        return exc.code, json.loads(exc.read())


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(_get(f"http://127.0.0.1:{port}/api/v1/metrics"), timeout=10) as resp:
        text = resp.read().decode()
    found = re.search(rf'^{name}{{camera="{CAM}"}} (\S+)$', text, re.M)
    assert found, f"{name} for {CAM} missing from /api/v1/metrics"
    return float(found[1])


def _answers(port: int) -> bool:
    try:
        get_health(port, "/health")
    except OSError:  # urllib's URLError included: not listening yet
        return False
    return True


def recorder_check(port: int) -> dict[str, object]:
    """The ``recorder`` check of /api/v1/health (its per-camera sentences joined into ``detail``), with
    the answer's ``ok`` and the HTTP status; the open /health must agree on ``ok`` and name no camera."""
    code, health = get_health(port)
    checks = health["checks"]
    assert isinstance(checks, list)
    (check,) = [c for c in checks if c["name"] == "recorder"]
    assert isinstance(check, dict)
    open_code, open_health = get_health(port, "/health")
    assert open_code == code and open_health["ok"] == health["ok"] and CAM not in json.dumps(open_health)
    named = "; ".join(str(v) for v in (check.get("cameras") or {}).values())
    return {**check, "detail": f"{check['detail']}; {named}", "overall": health["ok"], "http": code}


@pytest.fixture
def own_seaweed(tmp_path: Path) -> Iterator[EmbeddedSeaweed]:
    server = EmbeddedSeaweed(tmp_path / "seaweed", buckets=("archive-media", "archive-log"))
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_status_and_health_name_a_camera_not_recording_and_a_growing_backlog(
    tmp_path: Path, sim_cameras: SimCameraFactory, own_seaweed: EmbeddedSeaweed
) -> None:
    (cam,) = sim_cameras(1, "h264")
    port = free_port()
    creds = own_seaweed.credentials
    hook = Hook()
    (tmp_path / "archive.toml").write_text(
        f'[paths]\ndata_dir = "var"\n[api]\nport = {port}\n[alerts]\nwebhook_url = "{hook.url}"\n'
        '[recorder]\nsegment_seconds = 2\nalert_backlog_segments = 5\n'
        f'[storage]\nmode = "s3"\nendpoint = "{own_seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nregion = "{own_seaweed.region}"\n'
    )
    (tmp_path / "cams.yaml").write_text(
        "owners:\n  - id: e2e\n    name: E2E owner\n    kind: government\n    agencies: [police]\n"
        f"cameras:\n  - id: {CAM}\n    name: E2E camera\n    owner: e2e\n    stream_url: {cam.url}\n"
        "    latitude: -7.47\n    longitude: 112.43\n    location: test bench\n"
    )
    imported = cli(tmp_path, "cameras", "import", "cams.yaml")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    made = cli(tmp_path, "users", "add", "prom", "--name", "Prometheus", "--role", "auditor", "--agency", "ops")
    assert made.returncode == 0, made.stdout + made.stderr
    issued = cli(tmp_path, "tokens", "create", "prom", "--days", "1")
    assert issued.returncode == 0, issued.stdout + issued.stderr
    TOKEN[:] = [issued.stdout.split()[0]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "up"], stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path, env=env)  # fmt: skip
    last: list[subprocess.CompletedProcess[str]] = []

    def status_is(code: int, *words: str) -> bool:
        assert proc.poll() is None, (tmp_path / "up.log").read_text()
        last[:] = [cli(tmp_path, "status")]
        return last[0].returncode == code and all(w in last[0].stdout for w in words)

    try:
        poll("two segments stored", 90, lambda: status_is(0, "no problem") and '"ingested": 0' not in
             cli(tmp_path, "status", "--json").stdout)  # fmt: skip
        poll("the API answering", 60, lambda: _answers(port))  # its own process: it may start after the recorder
        assert recorder_check(port)["ok"] is True

        cam.stop()
        went = time.monotonic()
        poll("status 1 naming the camera", 40, lambda: status_is(1, f"camera {CAM} is not recording"))
        assert time.monotonic() - went >= 3 * 2 - 1.0, last[0].stdout  # not before 3 segment lengths
        assert "camera_unreachable: connection refused by 127.0.0.1" in last[0].stdout, last[0].stdout
        assert "rtsp://" not in last[0].stdout
        check = recorder_check(port)
        assert check["ok"] is False and check["overall"] is False, check
        assert check["http"] == 200, check  # a camera's trouble is not the API's: it still serves evidence
        assert f"camera {CAM} is not recording" in str(check["detail"]), check
        assert metric(port, "archive_camera_seconds_since_last_segment") > 6
        assert metric(port, "archive_camera_healthy") == 0
        as_json = cli(tmp_path, "status", "--json")
        assert as_json.returncode == 1 and json.loads(as_json.stdout)["ok"] is False
        hook.wait(1, timeout=15)  # the operator's webhook was told once
        assert hook.bodies[0]["ok"] is False and f"camera {CAM} is not recording" in str(hook.bodies[0]["started"])

        cam.start()
        poll("status 0 once the camera records again", 60, lambda: status_is(0, "no problem"))
        hook.wait(2, timeout=15)
        assert hook.bodies[1]["ok"] is True
        assert hook.bodies[1]["resolved"] == [{"subject": CAM, "kind": "not_recording"}]

        own_seaweed.stop()  # the store stops answering: segments wait in the spool
        poll("status 1 naming the backlog", 60, lambda: status_is(1, f"camera {CAM}: ", "segments wait to be stored"))
        assert "object store unreachable" in last[0].stdout, last[0].stdout
        assert metric(port, "archive_ingest_backlog_segments") > 5
        check = recorder_check(port)
        assert check["ok"] is False and "segments wait to be stored" in str(check["detail"]), check
        assert check["http"] == 503, check  # the storage check is critical
        own_seaweed.start()
        poll("status 0 once the backlog drained", 120, lambda: status_is(0, "no problem"))
        assert metric(port, "archive_ingest_backlog_segments") <= 1
        assert metric(port, "archive_sink_failures_total") == 0

        piped = subprocess.Popen([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "status"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env)  # fmt: skip
        assert piped.stdout is not None and piped.stderr is not None
        piped.stdout.close()  # the reader went away before a line was written (| head)
        err = piped.stderr.read().decode()
        piped.wait(60)
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(90)
        log.close()
    hook.server.shutdown()
    out = (tmp_path / "up.log").read_text()
    assert rc == 0 and "Traceback" not in out, out
    assert "s3cret" not in out  # the webhook's token is never logged
    down = cli(tmp_path, "status")
    assert down.returncode == 1, down.stdout + down.stderr  # the service is down: a failure, not bad input
    assert down.stderr.count("\n") == 1 and "not running" in down.stderr and "Traceback" not in down.stderr
