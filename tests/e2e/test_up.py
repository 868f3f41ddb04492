"""`archive up` end to end, as a newcomer runs it: no cameras -> simulated ones are recorded,
`archive status` reports them, SIGINT stops cleanly, and `archive verify` proves what was stored."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.ports import free_port

ARCHIVE = Path(sys.executable).parent / "archive"


def cli(tmp_path, *args, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    return subprocess.run([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), *args], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=timeout)


@pytest.mark.slow
def test_up_records_simulated_cameras_then_verifies(tmp_path):
    port = free_port()
    (tmp_path / "archive.toml").write_text(
        f'[paths]\ndata_dir = "var"\n[recorder]\nsegment_seconds = 4\n[api]\nport = {port}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "up"], stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 90
        data = None
        while time.monotonic() < deadline:
            time.sleep(2)
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            r = cli(tmp_path, "status", "--json")
            if r.returncode in (0, 1) and r.stdout.strip():
                data = json.loads(r.stdout)
                if data["cameras"] and all(c["ingest"]["ingested"] >= 2 for c in data["cameras"]):
                    break
        assert data is not None and len(data["cameras"]) == 4, (tmp_path / "up.log").read_text()
        assert all(c["ingest"]["ingested"] >= 2 for c in data["cameras"]), data
        human = cli(tmp_path, "status")
        assert human.returncode == 0, human.stdout + human.stderr
        assert "demo-cam1" in human.stdout and "recording" in human.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/schema/openapi.json", timeout=10) as resp:
            assert "/api/v1" in resp.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
        log.close()
    out = (tmp_path / "up.log").read_text()
    assert rc == 0, out
    assert "no cameras registered: starting simulated cameras" in out
    assert "Traceback" not in out
    assert cli(tmp_path, "status").returncode == 1  # nothing publishes status any more: the service is down
    for cam in ("demo-cam1", "demo-cam2", "demo-cam3", "demo-cam4"):
        v = cli(tmp_path, "verify", "camera", cam, timeout=180)
        assert v.returncode == 0, v.stdout + v.stderr
        assert f"OK: camera {cam}" in v.stdout
    assert cli(tmp_path, "verify", "log", timeout=180).returncode == 0
