"""One writer per camera (issue 13 item 1), as the outside tester ran it: a second
``archive record --camera X`` beside a running one (real RTSP simulated camera, real SeaweedFS,
SQLite catalog) refuses with one sentence naming the holder, before it touches the spool or the
store; the first keeps recording and ``archive verify camera X`` passes afterwards."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from archive.sim.cameras import SimulatedCameraSet
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.ports import free_port
from tests.fixtures.s3 import service_store_for

ARCHIVE = Path(sys.executable).parent / "archive"
CAM = "dishub-002"



def _cli(cfg: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    return subprocess.run([str(ARCHIVE), "--config", str(cfg), *args], capture_output=True, text=True,
                          cwd=cfg.parent, env=env, timeout=timeout)  # fmt: skip


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


@pytest.mark.slow
def test_second_recorder_of_a_camera_refuses_and_the_log_verifies(seaweed: EmbeddedSeaweed, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    media, logs = f"ow-media-{tag}", f"ow-logs-{tag}"
    service_store_for(seaweed, media, logs)  # the service identity (in the configs) cannot make buckets
    # two processes on one catalog and one store, each with its own data dir (spool), as on two hosts
    cfg_a = _config(tmp_path / "a.toml", "var-a", seaweed, media, logs)
    cfg_b = _config(tmp_path / "b.toml", "var-b", seaweed, media, logs)
    with SimulatedCameraSet(1, ["h264"]) as sims:
        cams = tmp_path / "cameras.yaml"
        cams.write_text(
            "owners:\n  - id: dishub\n    name: Dishub\n    kind: government\n    agencies: [police]\n"
            f"cameras:\n  - id: {CAM}\n    name: Intersection 2\n    owner: dishub\n    stream_url: {sims.urls[0]}\n"
            "    latitude: -7.47\n    longitude: 112.43\n    location: test\n"
        )
        imported = _cli(cfg_a, "cameras", "import", str(cams))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
        log_a = (tmp_path / "a.log").open("w")
        first = subprocess.Popen([str(ARCHIVE), "--config", str(cfg_a), "record", "--camera", CAM], stdout=log_a,
                                 stderr=subprocess.STDOUT, cwd=tmp_path, env=env)  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and "recording 1 cameras" not in (tmp_path / "a.log").read_text():
                assert first.poll() is None, (tmp_path / "a.log").read_text()
                time.sleep(0.5)
            time.sleep(6)  # a few segments
            second = _cli(cfg_b, "record", "--camera", CAM, timeout=120)
            assert first.poll() is None, (tmp_path / "a.log").read_text()
        finally:
            first.send_signal(signal.SIGINT)
            rc_a = first.wait(90)
            log_a.close()
    out_a = (tmp_path / "a.log").read_text()
    assert rc_a == 0, out_a
    assert "Traceback" not in out_a and "Traceback" not in second.stderr
    # the refusal: exit 2, one sentence naming the holder (host:pid:random of the first recorder)
    assert second.returncode == 2, second.stdout + second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("archive: error:")]
    assert len(errors) == 1, second.stderr
    assert f"camera {CAM} is already recorded by holder {socket.gethostname()}:{first.pid}:" in errors[0]
    # ... before touching the spool or the store: no spool dir, no ffmpeg run, no health probe object
    assert not (tmp_path / "var-b" / "spool").exists(), list((tmp_path / "var-b").rglob("*"))
    assert "recorder.argv_privacy" not in second.stdout and "object_lock" not in second.stdout
    verified = _cli(cfg_a, "verify", "camera", CAM)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"OK: camera {CAM}" in verified.stdout
