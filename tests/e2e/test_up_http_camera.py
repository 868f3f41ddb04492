"""An http(s) camera left in the catalog by an earlier version (import now refuses them) does not stop
`archive up`: it is skipped and reported as a problem while the other cameras record (issue 14
item 13; before, one such camera made `up` exit 2 and record nothing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from archive.bootstrap import Runtime
from archive.config import load_config
from archive.model import Camera, Owner, OwnerKind
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.cameras import SimCameraFactory
from tests.fixtures.ports import free_port
from tests.fixtures.s3 import service_store_for

ARCHIVE = Path(sys.executable).parent / "archive"


def _cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    return subprocess.run([str(ARCHIVE), "--config", str(cfg), *args], capture_output=True, text=True,
                          cwd=cfg.parent, env=env, timeout=120)  # fmt: skip


@pytest.mark.slow
def test_an_old_http_camera_is_skipped_and_the_others_record(
    seaweed: EmbeddedSeaweed, sim_cameras: SimCameraFactory, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    tag = uuid.uuid4().hex[:10]
    media, logs = f"http-media-{tag}", f"http-logs-{tag}"
    service_store_for(seaweed, media, logs)
    creds = seaweed.credentials
    port = free_port()
    cfg = tmp_path / "archive.toml"
    cfg.write_text(
        f'[paths]\ndata_dir = "var"\n[api]\nport = {port}\n[recorder]\nsegment_seconds = 2\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "{media}"\nlog_bucket = "{logs}"\n',
        encoding="utf-8")  # fmt: skip
    assert _cli(cfg, "init").returncode == 0
    owner = Owner("dishub", "Dishub", OwnerKind.GOVERNMENT, ("police",))
    rtsp = Camera("rtsp-cam", "RTSP camera", "dishub", cam.url, -7.47, 112.43, "test")
    old = Camera("mjpeg-cam", "Old MJPEG camera", "dishub", "http://10.9.9.9/video.mjpg", -7.47, 112.43, "test")
    with Runtime(load_config(cfg, env={})) as rt:  # as an earlier version's import left them
        rt.registry.apply([owner], [(rtsp, None), (old, None)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen([str(ARCHIVE), "--config", str(cfg), "up"], stdout=log, stderr=subprocess.STDOUT,
                            cwd=tmp_path, env=env)  # fmt: skip
    data: dict[str, object] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(1)
            assert proc.poll() is None, (tmp_path / "up.log").read_text()  # old code: exit 2 at start
            r = _cli(cfg, "status", "--json")
            if r.stdout.strip():
                data = json.loads(r.stdout)
                cams = {c["camera_id"]: c for c in data["cameras"]}  # type: ignore[union-attr]
                if "rtsp-cam" in cams and cams["rtsp-cam"]["ingest"]["ingested"] >= 1:
                    break
        human = _cli(cfg, "status")
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
        log.close()
    out = (tmp_path / "up.log").read_text()
    assert rc == 0 and "Traceback" not in out, out
    assert [c["camera_id"] for c in data["cameras"]] == ["rtsp-cam"], data  # type: ignore[index]
    assert data["cameras"][0]["ingest"]["ingested"] >= 1  # type: ignore[index]
    assert "SKIP mjpeg-cam: its stream URL scheme 'http' is not recorded" in out, out
    assert human.returncode == 1
    assert ("PROBLEM: camera mjpeg-cam is not recorded: its stream URL scheme 'http' is not recorded "
            "(RTSP only: rtsp:// or rtsps://)") in human.stdout, human.stdout  # fmt: skip
