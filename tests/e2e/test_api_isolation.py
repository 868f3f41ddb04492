"""Recording survives whatever the API suffers (issue 14 item 2): 1,100 idle TCP connections to
the API of a running ``archive up`` (simulated cameras) under a 1,024-descriptor limit (soft and
hard, as a default Linux service gets) must not stop the service nor gap a camera; the API answers
again once the connections close; an API process killed with SIGKILL is restarted, recording goes
on. Loopback only; every loop bounded in count and time."""

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.ports import free_port

ARCHIVE = Path(sys.executable).parent / "archive"
IDLE_CONNECTIONS = 1100
HOLD_S = 25.0


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}


def _status(tmp_path: Path) -> dict | None:
    r = subprocess.run([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "status", "--json"],
                       capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=60)
    return json.loads(r.stdout) if r.returncode in (0, 1) and r.stdout.strip() else None


def _limit_descriptors() -> None:  # in the child, before exec: what a default service unit gets
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def _health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            return int(resp.status)
    except OSError:
        return 0


def _api_child(parent: int) -> int | None:
    """The pid of the API child process of ``archive up`` (pid ``parent``), if one runs."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"archive.cli.api_child" in cmd:
            return int(entry.name)
    return None


@pytest.mark.slow
def test_idle_connection_flood_and_api_crash_do_not_stop_recording(tmp_path):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE_CONNECTIONS + 200:
        pytest.skip(f"this test process may open only {hard} descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = free_port()
    (tmp_path / "archive.toml").write_text(
        f'[paths]\ndata_dir = "var"\n[recorder]\nsegment_seconds = 4\n[api]\nport = {port}\n')
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "up"], stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path, env=_env(), preexec_fn=_limit_descriptors)
    conns: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 240  # start-up of 4 simulated cameras under a loaded parallel run took over 120 s
        before = None
        while time.monotonic() < deadline:
            time.sleep(2)
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            before = _status(tmp_path)
            if before and before["cameras"] and all(c["ingest"]["ingested"] >= 1 for c in before["cameras"]) \
                    and _health(port) in (200, 503):
                break
        assert before is not None and len(before["cameras"]) == 4, (tmp_path / "up.log").read_text()
        refused = 0
        for _ in range(IDLE_CONNECTIONS):  # bounded: 1,100 connects, 2 s each at most
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", port))
                conns.append(s)
            except OSError:
                refused += 1
                s.close()
        held_until = time.monotonic() + HOLD_S
        while time.monotonic() < held_until:  # the service keeps running and publishing
            time.sleep(2.5)
            assert proc.poll() is None, (tmp_path / "up.log").read_text()[-4000:]
        during = _status(tmp_path)
        assert during is not None and not during["stale"], during
        for s in conns:
            s.close()
        conns.clear()
        back = time.monotonic() + 30
        while time.monotonic() < back and _health(port) not in (200, 503):
            time.sleep(1)
        assert _health(port) in (200, 503), (tmp_path / "up.log").read_text()[-4000:]
        # a crash of the API: the recorder's process restarts it, recording goes on
        child = _api_child(proc.pid)
        os.kill(child, signal.SIGKILL)
        back = time.monotonic() + 60
        while time.monotonic() < back and (_api_child(proc.pid) in (None, child) or _health(port) not in (200, 503)):
            time.sleep(1)
        assert _api_child(proc.pid) not in (None, child) and _health(port) in (200, 503), \
            (tmp_path / "up.log").read_text()[-4000:]
        time.sleep(9)  # two more segments
        after = _status(tmp_path)
        assert after is not None and not after["stale"], after
        was = {c["camera_id"]: c for c in before["cameras"]}
        for cam in after["cameras"]:
            old = was[cam["camera_id"]]
            assert cam["ingest"]["ingested"] >= old["ingest"]["ingested"] + 4, (cam, old)
            assert cam["ingest"]["gaps"] == old["ingest"]["gaps"], (cam, old)
            assert cam["state"] == "recording", cam
        print(f"{IDLE_CONNECTIONS - refused} idle connections held {HOLD_S} s ({refused} refused)")
    finally:
        for s in conns:
            s.close()
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        log.close()
    out = (tmp_path / "up.log").read_text()
    assert rc == 0, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
