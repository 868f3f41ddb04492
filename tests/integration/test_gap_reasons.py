"""Gap reasons from the recorder's own state (SPEC.md 2.3), each made to happen for real: a camera
server stopped or frozen while the recorder runs, the recorder stopped while a camera is down,
the spool filling while the object store is stopped."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.sink import GapRecord, RecorderGapReason
from archive.recorder.status import CameraState
from archive.storage.base import ObjectStore
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.cameras import SimCameraFactory
from tests.fixtures.memory_sink import MemorySink
from tests.fixtures.s3 import service_store_for
from tests.integration.test_recorder import SEGMENT_SECONDS, assert_covered, gaps, make_recorder, segments, wait_until


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def reasons(found: list[GapRecord]) -> list[RecorderGapReason]:
    """The reasons in order, neighbours with the same reason counted once (two processes may each
    log a piece of one state)."""
    return [r for r, _ in itertools.groupby(g.reason for g in found)]


def no_url(found: list[GapRecord]) -> None:
    for gap in found:
        assert "rtsp://" not in gap.detail and "://" not in gap.detail, gap


def test_a_camera_stopped_while_recording_is_unreachable_with_the_connect_facts(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    spec = RecordingSpec.create("cam-u", cam.url, segment_seconds=SEGMENT_SECONDS)
    sink = MemorySink()
    with make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink) as recorder:
        wait_until(lambda: len(segments(sink, "cam-u")) >= 2, 30, "two segments before the outage")
        went = utcnow()
        cam.stop()
        time.sleep(8)
        cam.start()
        back = utcnow()
        wait_until(lambda: recorder.status().camera("cam-u").state is CameraState.RECORDING, 15, "recording again")
        n = len(segments(sink, "cam-u"))
        wait_until(lambda: len(segments(sink, "cam-u")) >= n + 1, 30, "a segment after the outage")
    found = gaps(sink, "cam-u")
    print(found)
    (gap,) = found
    assert gap.reason is RecorderGapReason.CAMERA_UNREACHABLE
    assert re.fullmatch(rf"connection refused by 127\.0\.0\.1:{cam.port} \(\d+ attempts\)", gap.detail), gap.detail
    assert int(gap.detail.split("(")[1].split()[0]) >= 3  # 8 s of retries, 0.5 s then 2 s apart
    assert abs((gap.start - went).total_seconds()) < 1.5 and gap.end >= back - dt.timedelta(seconds=0.5)
    no_url(found)


def test_the_recorder_stopped_while_a_camera_is_down_splits_the_gap_by_state(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    spec = RecordingSpec.create("cam-r", cam.url, segment_seconds=SEGMENT_SECONDS)
    sink = MemorySink()
    with make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink):
        wait_until(lambda: len(segments(sink, "cam-r")) >= 2, 30, "two segments before the outage")
        went = utcnow()
        cam.stop()
        time.sleep(5)
        stopped = utcnow()
    time.sleep(6)  # the recorder is not running
    started = utcnow()
    with make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink) as recorder:
        time.sleep(6)  # running, the camera still down
        cam.start()
        back = utcnow()
        wait_until(lambda: recorder.status().camera("cam-r").state is CameraState.RECORDING, 15, "recording again")
        n = len(segments(sink, "cam-r"))
        wait_until(lambda: len(segments(sink, "cam-r")) >= n + 1, 30, "a segment after the outage")
    found = gaps(sink, "cam-r")
    print("\n".join(f"{g.start:%H:%M:%S.%f} {g.end:%H:%M:%S.%f} {g.reason} {g.detail}" for g in found))
    print(f"went {went:%T.%f} stopped {stopped:%T.%f} started {started:%T.%f} back {back:%T.%f}")
    cu, rs = RecorderGapReason.CAMERA_UNREACHABLE, RecorderGapReason.RECORDER_STOPPED
    assert reasons(found) == [cu, rs, cu]
    first, last = found[0], found[-1]
    assert abs((first.start - went).total_seconds()) < 1.5 and abs((first.end - stopped).total_seconds()) < 1.5
    down = [g for g in found if g.reason is RecorderGapReason.RECORDER_STOPPED]
    assert abs((down[0].start - stopped).total_seconds()) < 1.5
    assert abs((down[-1].end - started).total_seconds()) < 1.5  # not a second of the camera's outage after it
    assert any(g.detail.startswith("the recorder was stopped at ") for g in down), down  # a clean stop, said so
    assert last.end >= back - dt.timedelta(seconds=0.5) and "connection refused by 127.0.0.1" in last.detail
    assert_covered(sink, "cam-r", tolerance=1.0)
    no_url(found)


def test_a_frozen_camera_is_a_timeout_not_a_recorder_stop(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    spec = RecordingSpec.create("cam-f", cam.url, segment_seconds=SEGMENT_SECONDS)
    sink = MemorySink()
    with make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink) as recorder:
        wait_until(lambda: len(segments(sink, "cam-f")) >= 2, 30, "segments before the freeze")
        froze = utcnow()
        cam.freeze()  # TCP stays open and new connections are accepted by the kernel, nothing is answered
        try:
            time.sleep(15)
        finally:
            cam.thaw()
        wait_until(lambda: recorder.status().camera("cam-f").state is CameraState.RECORDING, 20, "recording again")
        n = len(segments(sink, "cam-f"))
        wait_until(lambda: len(segments(sink, "cam-f")) >= n + 1, 30, "a segment after the thaw")
    found = gaps(sink, "cam-f")
    print("\n".join(f"{g.start:%H:%M:%S.%f} {g.end:%H:%M:%S.%f} {g.reason} {g.detail}" for g in found))
    assert found and abs((found[0].start - froze).total_seconds()) < 1.5
    assert set(reasons(found)) <= {RecorderGapReason.CAMERA_UNREACHABLE, RecorderGapReason.STALLED}, found
    assert all("timed out" in g.detail or "no progress" in g.detail or "no segment" in g.detail for g in found), found
    no_url(found)


@pytest.fixture
def own_seaweed(tmp_path: Path) -> Iterator[EmbeddedSeaweed]:
    """A SeaweedFS of this test alone, so stopping it disturbs no other test."""
    server = EmbeddedSeaweed(tmp_path / "seaweed", buckets=("media",))  # made in its one-time Admin session
    server.start()
    yield server
    server.stop()


def test_a_full_spool_with_the_store_stopped_is_spool_full(
    sim_cameras: SimCameraFactory, own_seaweed: EmbeddedSeaweed, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    store = service_store_for(own_seaweed)  # the identity the service runs with
    store.ensure_bucket("media", object_lock=True)
    spec = RecordingSpec.create("cam-p", cam.url, segment_seconds=2)
    sink = MemorySink()
    limit = 3_000_000  # about six 2 s segments
    recorder = make_recorder([spec], tmp_path / "spool", store, "media", sink, spool_max_bytes=limit,
                             spool_check_seconds=0.5)  # fmt: skip
    with recorder:
        wait_until(lambda: len(segments(sink, "cam-p")) >= 2, 30, "segments while the store is up")
        own_seaweed.stop()
        wait_until(lambda: not recorder.status().store_available, 30, "the store to be seen down")
        wait_until(lambda: recorder.status().camera("cam-p").state is CameraState.SPOOL_FULL, 60, "the spool full")
        full = utcnow()
        time.sleep(4)
        own_seaweed.start()
        wait_until(lambda: recorder.status().camera("cam-p").state is CameraState.RECORDING, 60, "recording again")
        n = len(segments(sink, "cam-p"))
        wait_until(lambda: len(segments(sink, "cam-p")) >= n + 1, 30, "a segment after the pause")
    found = gaps(sink, "cam-p")
    print("\n".join(f"{g.start:%H:%M:%S.%f} {g.end:%H:%M:%S.%f} {g.reason} {g.detail}" for g in found))
    # every gap is a spool_full one with its facts; one covers the moment the spool was seen full. More
    # than one is true too: while the store was still stopping, the spool could drain below 70% once more
    # (seen in a parallel run: two spool_full gaps, 13 s apart)
    assert found
    for gap in found:
        assert gap.reason is RecorderGapReason.SPOOL_FULL, gap
        assert re.fullmatch(rf"spool full: \d+ of {limit} bytes waiting for the store; recording resumes below 70%",
                            gap.detail), gap.detail  # fmt: skip
    assert any(gap.start < full < gap.end for gap in found), found


def test_an_outage_ingested_only_after_a_restart_keeps_its_reason(
    sim_cameras: SimCameraFactory, own_seaweed: EmbeddedSeaweed, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    store = service_store_for(own_seaweed)  # the identity the service runs with
    store.ensure_bucket("media", object_lock=True)
    spec = RecordingSpec.create("cam-k", cam.url, segment_seconds=2)
    sink, root = MemorySink(), tmp_path / "spool"
    with make_recorder([spec], root, store, "media", sink) as recorder:
        wait_until(lambda: len(segments(sink, "cam-k")) >= 2, 30, "segments while the store is up")
        own_seaweed.stop()  # from now on everything waits in the spool
        wait_until(lambda: not recorder.status().store_available, 30, "the store to be seen down")
        went = utcnow()
        cam.stop()
        time.sleep(6)
        cam.start()
        back = utcnow()
        wait_until(lambda: recorder.status().camera("cam-k").state is CameraState.RECORDING, 15, "recording again")
        time.sleep(5)  # two segments after the outage, unstored
    own_seaweed.start()  # the outage is ingested by the next recorder process
    with make_recorder([spec], root, store, "media", sink) as recorder:
        wait_until(lambda: recorder.status().camera("cam-k").spool_backlog == 0 and
                   len(segments(sink, "cam-k")) >= 8, 60, "the old spool ingested")  # fmt: skip
    found = gaps(sink, "cam-k")
    print("\n".join(f"{g.start:%H:%M:%S.%f} {g.end:%H:%M:%S.%f} {g.reason} {g.detail}" for g in found))
    outage = [g for g in found if g.start < back and g.end > went]
    assert outage and reasons(outage) == [RecorderGapReason.CAMERA_UNREACHABLE], outage
    assert abs((outage[0].start - went).total_seconds()) < 1.5 and outage[-1].end >= back - dt.timedelta(seconds=1)
    assert "connection refused by 127.0.0.1" in outage[-1].detail
    no_url(found)
