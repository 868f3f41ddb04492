"""Gap reasons end to end into the evidence log, on SQLite and PostgreSQL: a camera down across a
recorder restart is logged, through the production sink, as camera_unreachable / recorder_stopped /
camera_unreachable entries that tile, and the camera's log verifies."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from pathlib import Path

from sqlalchemy import select

from archive.ledger.repo import GAP
from archive.ledger.verify import verify_camera
from archive.recorder.backoff import Backoff
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.ingest import Ingester
from archive.recorder.ledger_sink import LedgerSink
from archive.recorder.service import Recorder
from archive.recorder.status import CameraState
from archive.recorder.supervisor import SupervisorSettings
from archive.storage.base import ObjectStore
from tests.fixtures.cameras import SimCameraFactory
from tests.integration.ledger_support import make_env
from tests.integration.test_recorder import retention, wait_until

CAM = "cam-l"


def recorder(spec: RecordingSpec, root: Path, store: ObjectStore, bucket: str, sink: LedgerSink) -> Recorder:
    ingester = Ingester(store, sink, bucket=bucket, retention=retention, workers=2, retry=Backoff(0.2, 2.0),
                        store_retry=Backoff(0.5, 2.0))  # fmt: skip
    return Recorder([spec], SupervisorSettings(root), ingester=ingester)


def test_a_camera_down_across_a_restart_is_logged_state_by_state(
    catalog_url: str, s3_store: ObjectStore, sim_cameras: SimCameraFactory, tmp_path: Path
) -> None:
    env = make_env(catalog_url, s3_store, tmp_path)
    (cam,) = sim_cameras(1, "h264")
    spec = RecordingSpec.create(CAM, cam.url, segment_seconds=2)
    sink, root = LedgerSink(env.ledger), tmp_path / "spool"
    segments = lambda: env.ledger.size(CAM)  # noqa: E731
    with recorder(spec, root, s3_store, env.media, sink):
        wait_until(lambda: segments() >= 3, 40, "segments before the outage")
        cam.stop()
        time.sleep(4)
    time.sleep(4)
    started = dt.datetime.now(dt.UTC)
    with recorder(spec, root, s3_store, env.media, sink) as rec:
        time.sleep(4)
        cam.start()
        wait_until(lambda: rec.status().camera(CAM).state is CameraState.RECORDING, 20, "recording again")
        n = segments()
        wait_until(lambda: segments() >= n + 2, 30, "segments after the outage")
    with env.engine.connect() as conn:
        rows = conn.execute(select(GAP.c.start_us, GAP.c.end_us, GAP.c.reason, GAP.c.detail)
                            .where(GAP.c.camera_id == CAM).order_by(GAP.c.seq)).all()  # fmt: skip
    print("\n".join(str(r) for r in rows))
    assert [r for r, _ in itertools.groupby(row.reason for row in rows)] == [
        "camera_unreachable", "recorder_stopped", "camera_unreachable"]  # fmt: skip
    for a, b in itertools.pairwise(rows):
        assert a.end_us == b.start_us  # tiled: no hole, no overlap
    stopped = [r for r in rows if r.reason == "recorder_stopped"]
    assert abs(stopped[-1].end_us / 1e6 - started.timestamp()) < 1.5
    assert rows[-1].detail.startswith("camera_unreachable: connection refused by 127.0.0.1:")
    assert all("rtsp://" not in r.detail for r in rows)
    env.ledger.checkpoint(CAM)
    report = verify_camera(env.ledger, CAM)
    assert report.ok, report.lines()
