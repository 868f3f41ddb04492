"""`archive up` recording a simulated camera into the replicated SeaweedFS cluster (issue 16,
failures): two of the three volume servers ``kill -9``-ed make every write fail (010 needs two
racks), the recorder keeps the segments in its spool, `archive status` and `/health` say the store
takes no write (the storage check: not ok, no 503: reads still work); once both run again the spool
drains and `archive verify camera` passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from archive.storage.seaweed_cluster import SeaweedCluster
from tests.e2e.test_status_health import TOKEN, cli, get_health, poll
from tests.fixtures.cameras import SimCameraFactory
from tests.fixtures.ports import free_port

ARCHIVE = Path(sys.executable).parent / "archive"
CAM = "cluster-cam"


def _spooled(tmp_path: Path) -> int:
    """Segment files waiting in the camera's spool (the one ffmpeg writes now included)."""
    return len(list((tmp_path / "var" / "spool" / CAM).glob("*.ts")))


def _open_metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} missing from /metrics")


def _storage_check(port: int) -> bool:
    """``ok`` of the storage check of the open /health."""
    _, health = get_health(port, "/health")
    (check,) = [c for c in health["checks"] if c["name"] == "storage"]  # type: ignore[union-attr]
    return bool(check["ok"])


@pytest.mark.slow
def test_two_volume_servers_down_spool_then_drain(
    tmp_path: Path, sim_cameras: SimCameraFactory, seaweed_cluster: SeaweedCluster
) -> None:
    (cam,) = sim_cameras(1, "h264")
    port = free_port()
    creds = seaweed_cluster.credentials
    (tmp_path / "archive.toml").write_text(
        f'[paths]\ndata_dir = "var"\n[api]\nport = {port}\n[recorder]\nsegment_seconds = 2\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed_cluster.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nregion = "{seaweed_cluster.region}"\n'
    )
    (tmp_path / "cams.yaml").write_text(
        "owners:\n  - id: ops\n    name: Ops owner\n    kind: government\n    agencies: [police]\n"
        f"cameras:\n  - id: {CAM}\n    name: Cluster camera\n    owner: ops\n    stream_url: {cam.url}\n"
        "    latitude: -7.47\n    longitude: 112.43\n    location: test bench\n"
    )
    for args in (("cameras", "import", "cams.yaml"), ("users", "add", "prom", "--name", "Prometheus", "--role",
                                                       "auditor", "--agency", "ops")):  # fmt: skip
        done = cli(tmp_path, *args)
        assert done.returncode == 0, done.stdout + done.stderr
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

    def wait(what: str, timeout: float, probe: Callable[[], bool]) -> None:
        try:
            poll(what, timeout, probe)
        except AssertionError as exc:
            said = last[0].stdout if last else ""
            tail = (tmp_path / "up.log").read_text()[-3000:]
            raise AssertionError(f"{exc}; last status:\n{said}\nup.log:\n{tail}") from exc

    try:
        wait("segments stored in the cluster", 60, lambda: status_is(0, "no problem") and '"ingested": 0' not in
             cli(tmp_path, "status", "--json").stdout)  # fmt: skip
        seaweed_cluster.kill_process("volume-r1")
        seaweed_cluster.kill_process("volume-r2")
        down = time.monotonic()
        wait(
            "status 1: segments wait, the store takes no write",
            60,
            lambda: status_is(1, "PROBLEM: object store unreachable", "backlog"),
        )
        assert _spooled(tmp_path) >= 3, _spooled(tmp_path)
        code, health = get_health(port)
        checks = {c["name"]: c for c in health["checks"]}  # type: ignore[union-attr]
        assert health["ok"] is False and checks["recorder"]["ok"] is False, health
        wait("/health's storage check: no write", 15, lambda: _storage_check(port) is False)
        assert "1 problem(s)" in str(checks["recorder"]["detail"]), health
        assert code == 200, health  # not 503: the store still serves evidence (reads work)
        detected = time.monotonic() - down
        assert _open_metric(port, "archive_recorder_store_up") == 0
        spooled_at_worst = _spooled(tmp_path)
        seaweed_cluster.restart_process("volume-r1")
        seaweed_cluster.restart_process("volume-r2")
        outage = time.monotonic() - down
        wait("status 0 once the spool drained", 90, lambda: status_is(0, "no problem"))
        poll("the spool holds at most the segment being written", 30, lambda: _spooled(tmp_path) <= 1)
        drained = time.monotonic() - down - outage
        assert _open_metric(port, "archive_recorder_store_up") == 1
        wait("/health ok again", 15, lambda: get_health(port)[1]["ok"] is True)
        code, health = get_health(port)
        assert code == 200 and health["ok"] is True, health
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(90)
        log.close()
    out = (tmp_path / "up.log").read_text()
    assert rc == 0 and "Traceback" not in out, out
    print(
        f"two volume servers down {outage:.0f} s (status said so after {detected:.0f} s): {spooled_at_worst} "
        f"segments spooled; drained {drained:.0f} s after the restart"
    )
    assert _spooled(tmp_path) == 0
    assert cli(tmp_path, "verify", "log", timeout=180).returncode == 0
    # PUTs that timed out while both volume servers were down may be finished by the store once they are
    # back, besides the recorder's retry: byte-identical second versions, which verify notes (not fails).
    verified = cli(tmp_path, "verify", "camera", CAM, timeout=180)
    assert verified.returncode == 0 and f"OK: camera {CAM}" in verified.stdout, verified.stdout + verified.stderr
