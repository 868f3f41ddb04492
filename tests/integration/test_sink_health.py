"""A sink failure made to happen for real: the SQLite catalog locked by another process's
exclusive transaction while the recorder runs. Health names the camera and the failing sink until
the lock goes, then recovers; nothing recorded meanwhile is lost."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from archive.api.metrics import render
from archive.api.status import recorder_check, recorder_metrics
from archive.ledger.verify import verify_camera
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.ledger_sink import LedgerSink
from archive.storage.base import ObjectStore
from tests.fixtures.cameras import SimCameraFactory
from tests.integration.ledger_support import make_env
from tests.integration.test_gap_reasons_ledger import recorder
from tests.integration.test_recorder import wait_until

CAM = "cam-sink"


def test_a_locked_catalog_is_a_sink_failure_that_health_names(
    s3_store: ObjectStore, sim_cameras: SimCameraFactory, tmp_path: Path
) -> None:
    db = tmp_path / "catalog.sqlite3"
    env = make_env(f"sqlite:///{db}", s3_store, tmp_path)
    (cam,) = sim_cameras(1, "h264")
    spec = RecordingSpec.create(CAM, cam.url, segment_seconds=2)
    with recorder(spec, tmp_path / "spool", s3_store, env.media, LedgerSink(env.ledger)) as rec:
        wait_until(lambda: env.ledger.size(CAM) >= 2, 40, "segments logged")
        assert recorder_check(rec.status)().ok
        lock = sqlite3.connect(db, timeout=1, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the catalog: every commit waits 10 s, then fails
        try:
            wait_until(lambda: rec.status().camera(CAM).ingest.sink_failures >= 1, 60, "a sink failure")
            check = recorder_check(rec.status)()
            print(check.detail)
            assert not check.ok, check
            named = dict(check.cameras)[CAM]  # the per-camera sentence (served behind authentication)
            assert f"camera {CAM}: the catalog / evidence log failed" in named, check
            assert "database is locked" in named and CAM not in check.detail  # the open detail only counts
            text = render(recorder_metrics(rec.status)())
            assert f'archive_sink_failures_total{{camera="{CAM}"}} 1' in text or \
                f'archive_sink_failures_total{{camera="{CAM}"}} 2' in text, text  # fmt: skip
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        released = time.monotonic()
        wait_until(lambda: recorder_check(rec.status)().ok, 60, "health to recover once the lock is gone")
        print(f"recovered {time.monotonic() - released:.1f} s after the lock was released")
        n = env.ledger.size(CAM)
        wait_until(lambda: env.ledger.size(CAM) >= n + 1, 30, "logging again")
    env.ledger.checkpoint(CAM)
    report = verify_camera(env.ledger, CAM)
    assert report.ok, report.lines()
