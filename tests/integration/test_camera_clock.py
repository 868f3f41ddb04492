"""Camera-sent absolute time (RTCP sender reports) beside the recorder's, end to end (issue 13 item 2,
SPEC.md 2.2 ``camera_start``, 9.1): the real recorder, the production sink, a SQLite catalog, the
SeaweedFS store and simulated RTSP cameras.

- a GStreamer camera whose clock is an hour behind (libfaketime): its sender reports say so, and
  every stored segment's ``camera_start`` is ``start`` - 3600 s;
- a camera that sends no sender report (the lite server): ``camera_start`` is null, never our clock;
- a camera whose clock is right: ``camera_start`` within 1 s of ``start``.

Tolerance: ``camera_start - start`` is the camera's clock offset plus what separates the two
readings of one frame: capture to arrival (loopback: milliseconds; measured 75-80 ms through the
simulator's relay), the recorder's dating (``start`` lags arrival by at most R = 1 s, SPEC.md 9.1)
and ffmpeg's millisecond rounding. So within 1.5 s of the camera's offset, for every live segment.
The first segment of a run is different: the simulated camera, like a relay or an NVR, first sends
what it buffered since it started (a burst, SPEC.md 9.1), so that segment's media was captured
before it arrived, by up to the camera's uptime: its camera time lies between the camera's start
and the segment's ``start`` (each shifted by the camera's offset), never after.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from archive.ledger.repo import SEGMENT
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.ledger_sink import LedgerSink
from archive.sim.bulk import BulkCameraSet
from archive.storage.base import ObjectStore
from tests.fixtures.cameras import SimCameraFactory
from tests.integration.ledger_support import Env, make_env
from tests.integration.test_gap_reasons_ledger import recorder
from tests.integration.test_recorder import wait_until

TOLERANCE_S = 1.5
SEGMENTS = 4


def _record(env: Env, url: str, camera: str, root: Path) -> tuple[list[tuple[int, int | None]], float | None]:
    """Record ``url`` until :data:`SEGMENTS` segments are logged; returns their ``(start_us,
    camera_start_us)`` from the catalog and the camera's clock offset in the recorder's status."""
    spec = RecordingSpec.create(camera, url, segment_seconds=2, camera_clock=True)
    with recorder(spec, root, env.store, env.media, LedgerSink(env.ledger)) as rec:
        wait_until(lambda: env.ledger.size(camera) >= SEGMENTS, 45, f"{SEGMENTS} segments of {camera}")
        offset = rec.status().camera(camera).ingest.camera_clock_offset_s
    with env.engine.connect() as conn:
        rows = conn.execute(select(SEGMENT.c.start_us, SEGMENT.c.camera_start_us)
                            .where(SEGMENT.c.camera_id == camera).order_by(SEGMENT.c.seq)).all()  # fmt: skip
    print(camera, [(s, c, None if c is None else (c - s) / 1e6) for s, c in rows], "status offset", offset)
    return [(s, c) for s, c in rows], offset


def _env(s3_store: ObjectStore, tmp_path: Path) -> Env:
    return make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path)


def _check(rows: list[tuple[int, int | None]], offset_s: float, camera_started: float) -> None:
    assert len(rows) >= SEGMENTS
    assert all(c is not None for _, c in rows), rows
    (first_start, first_camera), *live = rows
    assert first_camera is not None
    assert camera_started - TOLERANCE_S < first_camera / 1e6 - offset_s < first_start / 1e6 + TOLERANCE_S
    for start_us, camera_us in live:
        assert camera_us is not None
        assert abs((camera_us - start_us) / 1e6 - offset_s) < TOLERANCE_S


def test_a_camera_an_hour_behind_is_logged_an_hour_behind(
    s3_store: ObjectStore, sim_cameras: SimCameraFactory, tmp_path: Path
) -> None:
    started = dt.datetime.now(dt.UTC).timestamp()
    (cam,) = sim_cameras(1, "h264", clock_offset_s=-3600)
    rows, offset = _record(_env(s3_store, tmp_path), cam.url, "cam-behind", tmp_path / "spool")
    _check(rows, -3600, started)
    assert offset is not None and abs(offset + 3600) < TOLERANCE_S


def test_a_camera_without_sender_reports_has_no_camera_time(s3_store: ObjectStore, tmp_path: Path) -> None:
    with BulkCameraSet(1, server="lite") as sims:
        rows, offset = _record(_env(s3_store, tmp_path), sims.urls[0], "cam-nosr", tmp_path / "spool")
    assert len(rows) >= SEGMENTS
    assert [c for _, c in rows] == [None] * len(rows)
    assert offset is None


def test_a_camera_with_the_right_time_is_logged_beside_ours(
    s3_store: ObjectStore, sim_cameras: SimCameraFactory, tmp_path: Path
) -> None:
    started = dt.datetime.now(dt.UTC).timestamp()
    (cam,) = sim_cameras(1, "h264")
    rows, offset = _record(_env(s3_store, tmp_path), cam.url, "cam-right", tmp_path / "spool")
    _check(rows, 0.0, started)
    assert all(abs(c - s) / 1e6 < 1.0 for s, c in rows[1:] if c is not None), rows  # live: within 1 s
    assert offset is not None and abs(offset) < 1.0
