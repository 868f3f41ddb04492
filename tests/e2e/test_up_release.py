"""A running ``archive up`` and the cameras an operator takes out of it (issue 13, review findings).

- A disabled camera's writer claim is released once its last segment is stored, so
  ``archive record --camera X`` (another process, its own spool, the same catalog and store) may
  record it while ``up`` runs on; the log still verifies.
- Stopping a camera's recording happens off the ``up`` loop: cameras whose ffmpeg takes its whole
  grace period to stop (frozen with SIGSTOP) do not hold back the status the others publish.

One ``up`` (real SeaweedFS, SQLite catalog, RTSP simulated cameras) serves both tests; each uses
cameras of its own, so they hold in either order or on different xdist workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.catalog.db import make_engine
from archive.errors import ArchiveError
from archive.ledger.tables import LogEntryRow
from archive.recorder.status_file import read_status_file
from archive.sim.cameras import ClipCache, SimulatedCameraSet
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.ports import free_port
from tests.fixtures.s3 import service_store_for

ARCHIVE = Path(sys.executable).parent / "archive"
CAMS = ("cam-a", "cam-b", "cam-c", "cam-d")  # a, b: frozen and disabled; c: released; d: keeps recording


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}



def _config(path: Path, data_dir: str, seaweed: EmbeddedSeaweed, media: str, logs: str) -> Path:
    creds = seaweed.credentials
    path.write_text(
        f'[paths]\ndata_dir = "{data_dir}"\n'
        f'[catalog]\nurl = "sqlite:///{path.parent / "catalog.sqlite3"}"\n'
        f'[secrets]\nkey_file = "{path.parent / "credentials.key"}"\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "{media}"\nlog_bucket = "{logs}"\n'
        f'[recorder]\nsegment_seconds = 2\n[ledger]\ncheckpoint_interval_s = 5\n'
        f'[api]\nport = {free_port()}\n'
    )
    return path


def wait_for(what: str, timeout: float, probe: Callable[[], bool]) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if probe():
            return time.monotonic() - began
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@dataclass
class Service:
    """The running ``up`` of the module and how to look at it."""

    tmp: Path
    cfg: Path
    proc: subprocess.Popen[bytes]
    seaweed: EmbeddedSeaweed
    media: str
    logs: str

    def cli(self, *args: str, cfg: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ARCHIVE), "--config", str(cfg or self.cfg), *args], capture_output=True,
                              text=True, cwd=self.tmp, env=_env(), timeout=timeout, check=False)  # fmt: skip

    def log(self) -> str:
        return (self.tmp / "up.log").read_text(errors="replace")

    def status(self, data_dir: str = "var-a") -> dict[str, object]:
        assert self.proc.poll() is None, self.log()
        try:
            return read_status_file(self.tmp / data_dir / "run" / "status.json")
        except ArchiveError:
            return {}

    def cams(self, data_dir: str = "var-a") -> dict[str, dict[str, object]]:
        return {c["camera_id"]: c for c in self.status(data_dir).get("cameras", [])}  # type: ignore[attr-defined]

    def ingested(self, cam: str, data_dir: str = "var-a") -> int:
        got = self.cams(data_dir).get(cam)
        return int(got["ingest"]["ingested"]) if got else -1  # type: ignore[index]


@pytest.fixture(scope="module")
def service(seaweed: EmbeddedSeaweed, sim_clip_cache: ClipCache,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:  # fmt: skip
    tmp = tmp_path_factory.mktemp("up-release")
    tag = uuid.uuid4().hex[:10]
    media, logs = f"rel-media-{tag}", f"rel-logs-{tag}"
    service_store_for(seaweed, media, logs)
    cfg = _config(tmp / "a.toml", "var-a", seaweed, media, logs)
    with SimulatedCameraSet(len(CAMS), "h264", cache=sim_clip_cache, workdir=tmp / "sims") as sims:
        (tmp / "cams.yaml").write_text(
            "owners:\n  - {id: e2e, name: E2E owner, kind: government, agencies: [police]}\ncameras:\n"
            + "".join(f"  - {{id: {n}, name: {n}, owner: e2e, stream_url: '{url}', latitude: -7.47,"
                      f" longitude: 112.43, location: bench}}\n" for n, url in zip(CAMS, sims.urls, strict=True)),
            encoding="utf-8")  # fmt: skip
        imported = subprocess.run([str(ARCHIVE), "--config", str(cfg), "cameras", "import", "cams.yaml"],
                                  capture_output=True, text=True, cwd=tmp, env=_env(), timeout=120, check=False)
        assert imported.returncode == 0, imported.stdout + imported.stderr
        log = (tmp / "up.log").open("w")
        proc = subprocess.Popen([str(ARCHIVE), "--config", str(cfg), "up"], stdout=log, stderr=subprocess.STDOUT,
                                cwd=tmp, env=_env())  # fmt: skip
        svc = Service(tmp, cfg, proc, seaweed, media, logs)
        try:
            wait_for("every camera recording", 90, lambda: all(svc.ingested(c) >= 1 for c in CAMS))
            yield svc
        finally:
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(90)
            log.close()
        assert rc == 0 and "Traceback" not in svc.log(), svc.log()


def _pid(svc: Service, cam: str) -> int:
    pid = svc.cams()[cam]["pid"]
    assert isinstance(pid, int), svc.cams()[cam]
    return pid


@pytest.mark.slow
def test_slow_camera_stops_do_not_hold_back_the_others_status(service: Service) -> None:
    """Two cameras whose ffmpeg ignores SIGTERM (stopped with SIGSTOP: each stop takes the whole
    5 s grace) are disabled together; status.json keeps being published every ~5 s meanwhile
    (on the old code the ``up`` loop waited for each stop in turn: >= 10 s without a publication)."""
    frozen = [_pid(service, "cam-a"), _pid(service, "cam-b")]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    status = service.tmp / "var-a" / "run" / "status.json"
    # both disabled in one transaction (an import), so one look at the registry sees both
    lines = (service.tmp / "cams.yaml").read_text(encoding="utf-8").splitlines()
    (service.tmp / "off.yaml").write_text("\n".join(
        [x for x in lines if "cam-" not in x] + [x.replace("location: bench}", "location: bench, enabled: false}")
                                                 for x in lines if "id: cam-a" in x or "id: cam-b" in x]) + "\n",
        encoding="utf-8")  # fmt: skip
    r = service.cli("cameras", "import", "off.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    worst, began, seen_d = 0.0, time.monotonic(), set()
    while time.monotonic() - began < 16:
        worst = max(worst, time.time() - status.stat().st_mtime)
        seen_d.add(str(service.cams().get("cam-d", {}).get("last_segment_at")))
        time.sleep(0.2)
    wait_for("cam-a and cam-b out of the status", 20, lambda: not {"cam-a", "cam-b"} & set(service.cams()))
    assert worst < 8.5, f"status.json went {worst:.1f} s without a publication while two cameras stopped"
    assert len(seen_d) >= 3, seen_d  # cam-d's segments kept being noticed meanwhile


@pytest.mark.slow
def test_a_disabled_camera_is_released_for_another_recorder(service: Service) -> None:
    r = service.cli("cameras", "disable", "cam-c")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for("cam-c out of the status", 20, lambda: "cam-c" not in service.cams())
    cfg_b = _config(service.tmp / "b.toml", "var-b", service.seaweed, service.media, service.logs)
    log_b = (service.tmp / "b.log").open("w")
    began = time.monotonic()
    second = subprocess.Popen([str(ARCHIVE), "--config", str(cfg_b), "record", "--camera", "cam-c"], stdout=log_b,
                              stderr=subprocess.STDOUT, cwd=service.tmp, env=_env())  # fmt: skip
    try:
        def recording() -> bool:
            assert second.poll() is None, (service.tmp / "b.log").read_text()
            return service.ingested("cam-c", "var-b") >= 2

        wait_for("record --camera cam-c storing segments", 90, recording)
    finally:
        second.send_signal(signal.SIGINT)
        rc_b = second.wait(90)
        log_b.close()
    out_b = (service.tmp / "b.log").read_text()
    assert rc_b == 0 and "Traceback" not in out_b, out_b
    assert time.monotonic() - began < 90
    assert "cam-c disabled: recording stopped" in service.log(), service.log()
    verified = service.cli("verify", "camera", "cam-c")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    engine = make_engine(f"sqlite:///{service.tmp / 'catalog.sqlite3'}")
    t = LogEntryRow.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.log_id, t.c.data).where(t.c.kind == "gap")).all()
    gaps = [json.loads(data) for log_id, data in rows if log_id == "cam-c" or log_id.endswith("/cam-c")]
    engine.dispose()
    assert any("disabled by an operator" in str(g) for g in gaps), gaps  # the time it was out says why
