"""A second `archive up` (as `./ops/up.sh` runs it) after a demo run: the demo cameras the earlier
run registered point at simulators that ended with it. They are replaced by this run's simulated
cameras (new addresses) and recorded, and a demo camera this run does not make is taken out of
service (issue 13 item 7), instead of reconnecting forever to dead addresses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.ports import free_port

ARCHIVE = Path(sys.executable).parent / "archive"
DEAD = "rtsp://127.0.0.1:9/dead"  # the discard port: refused, like a simulator that has gone
STALE = """owners:
  - {id: demo, name: Simulated cameras (demo), kind: government, agencies: [police]}
cameras:
""" + "".join(f"  - {{id: demo-cam{i}, name: old demo {i}, owner: demo, stream_url: '{DEAD}', latitude: -7.47,"
              f" longitude: 112.43, location: loopback, tags: [demo]}}\n" for i in (1, 2, 3, 4, 9))


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    return subprocess.run([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), *args], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120, check=False)  # fmt: skip


@pytest.mark.slow
def test_a_second_up_replaces_the_earlier_runs_demo_cameras(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "archive.toml").write_text(
        f'[paths]\ndata_dir = "var"\n[recorder]\nsegment_seconds = 2\n[api]\nport = {port}\n', encoding="utf-8")
    assert cli(tmp_path, "init").returncode == 0
    (tmp_path / "stale.yaml").write_text(STALE, encoding="utf-8")
    r = cli(tmp_path, "cameras", "import", str(tmp_path / "stale.yaml"))
    assert r.returncode == 0, r.stdout + r.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "up"], stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path, env=env)  # fmt: skip
    data: dict[str, object] | None = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(2)
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            s = cli(tmp_path, "status", "--json")
            if s.stdout.strip():
                data = json.loads(s.stdout)
                cams = data["cameras"]
                if cams and all(c["ingest"]["ingested"] >= 1 for c in cams):  # type: ignore[attr-defined]
                    break
        assert data is not None, (tmp_path / "up.log").read_text()
        states = {c["camera_id"]: c["ingest"]["ingested"] for c in data["cameras"]}  # type: ignore[attr-defined]
        assert sorted(states) == [f"demo-cam{i}" for i in (1, 2, 3, 4)], data
        assert all(n >= 1 for n in states.values()), (states, (tmp_path / "up.log").read_text())
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
        log.close()
    out = (tmp_path / "up.log").read_text()
    assert rc == 0 and "Traceback" not in out, out
    assert "demo cameras of an earlier run" in out, out
    listed = {c["id"]: c for c in json.loads(cli(tmp_path, "cameras", "list", "--json").stdout)}
    assert listed["demo-cam9"]["removed"] and not listed["demo-cam9"]["enabled"]
    assert all(listed[f"demo-cam{i}"]["stream_url"] != DEAD and "demo" in listed[f"demo-cam{i}"]["tags"]
               for i in (1, 2, 3, 4))
