"""The recorder when things go wrong: camera outage, recorder SIGKILL, object store down."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.recorder.ffmpeg import PROGRESS_PERIOD_S, RecordingSpec
from archive.recorder.ingest import DEFAULT_GAP_TOLERANCE_S
from archive.recorder.sink import RecorderGapReason, SegmentRecord
from archive.recorder.spool import CameraSpool, FileState
from archive.recorder.status import CameraState
from archive.storage.base import ObjectStore
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.cameras import SimCameraFactory
from tests.fixtures.memory_sink import MemorySink
from tests.fixtures.s3 import service_store_for
from tests.integration.test_recorder import (
    CONTIGUOUS_S,
    SEGMENT_SECONDS,
    assert_covered,
    gaps,
    make_recorder,
    segments,
    wait_until,
)

RECONNECT_WITHIN_S = 5.0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_camera_outage_reconnects_within_5_s_and_records_the_gap(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    spec = RecordingSpec.create("cam-o", cam.url, segment_seconds=SEGMENT_SECONDS)
    sink = MemorySink()
    recorder = make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink)
    with recorder:
        wait_until(lambda: len(segments(sink, "cam-o")) >= 2, 30, "two segments before the outage")
        went = utcnow()
        cam.stop()
        wait_until(lambda: recorder.status().camera("cam-o").state is not CameraState.RECORDING, 10, "noticed")
        time.sleep(8)
        during = recorder.status().camera("cam-o")
        cam.start()
        back = utcnow()
        wait_until(lambda: recorder.status().camera("cam-o").state is CameraState.RECORDING, 15, "recording again")
        again = utcnow()
        n_before = len(segments(sink, "cam-o"))
        wait_until(lambda: len(segments(sink, "cam-o")) >= n_before + 2, 30, "segments after the outage")
    print(f"camera back -> recording again: {(again - back).total_seconds():.2f} s; gap {gaps(sink, 'cam-o')}")
    assert during.state in (CameraState.RECONNECTING, CameraState.STARTING)
    assert during.not_recording_since is not None
    assert (again - back).total_seconds() < RECONNECT_WITHIN_S
    (gap,) = gaps(sink, "cam-o")
    assert gap.reason is RecorderGapReason.CAMERA_UNREACHABLE, gap
    assert abs((gap.start - went).total_seconds()) < 1.5, (gap, went)
    assert gap.end >= back - dt.timedelta(seconds=0.5), (gap, back)
    assert (gap.end - back).total_seconds() < RECONNECT_WITHIN_S, (gap, back)
    assert_covered(sink, "cam-o", tolerance=CONTIGUOUS_S)
    after = [r for r in segments(sink, "cam-o") if r.start >= gap.end]
    assert after and after[0].start == gap.end and after[0].starts_with_keyframe
    assert recorder.status().camera("cam-o").restarts >= 2


_RECORD_ONLY = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from archive.recorder.ffmpeg import RecordingSpec
    from archive.recorder.service import Recorder
    from archive.recorder.supervisor import SupervisorSettings
    spec = RecordingSpec.create("cam-k", sys.argv[1], segment_seconds=int(sys.argv[3]))
    Recorder([spec], SupervisorSettings(Path(sys.argv[2]))).start()
    print("STARTED", flush=True)
    time.sleep(3600)
    """
)


def _record_then_sigkill(
    cam_url: str, root: Path, spool: CameraSpool, *, ffmpeg_too: bool
) -> tuple[str, dt.datetime]:
    """Record in a child process until two segments are finished and a third is half written, then
    SIGKILL it (and, with ``ffmpeg_too``, its ffmpeg in the same instant, as ``kill -9`` of the
    whole service would). Returns the run id and the time of the kill, once ffmpeg has ended."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _RECORD_ONLY, cam_url, str(root), str(SEGMENT_SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    ffmpeg_pid = 0
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "STARTED"

        def mid_segment() -> bool:
            files = spool.scan(live_runs=spool.run_ids())
            done = [f for f in files if f.state is FileState.FINISHED]
            return len(done) >= 2 and files[-1].state is FileState.IN_PROGRESS and files[-1].size > 450_000

        wait_until(mid_segment, 40, "two finished segments and one half written", interval=0.1)
        (run_id,) = spool.run_ids()
        ffmpeg_pid = int(spool.run_paths(run_id).pid_file.read_text())
    finally:
        if ffmpeg_too and ffmpeg_pid:
            os.kill(ffmpeg_pid, signal.SIGKILL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    killed_at = utcnow()
    wait_until(lambda: not Path(f"/proc/{ffmpeg_pid}").exists(), 10, "ffmpeg to end with its parent")
    return run_id, killed_at


def _restart_and_ingest(
    cam_url: str, root: Path, s3_store: ObjectStore, bucket: str, n_left: int
) -> tuple[MemorySink, list[int]]:
    sink = MemorySink()
    spec = RecordingSpec.create("cam-k", cam_url, segment_seconds=SEGMENT_SECONDS)
    recorder = make_recorder([spec], root, s3_store, bucket, sink)
    with recorder:
        wait_until(lambda: len(segments(sink, "cam-k")) >= n_left + 1, 40, "old and new segments")
    return sink, list(recorder.orphans_ended)


def assert_gap_after(sink: MemorySink, last: SegmentRecord, first: SegmentRecord) -> None:
    """The time from the old run's last segment to the restarted run's first is logged as one
    ``recorder_stopped`` gap, or is within the gap tolerance: the simulator's RTSP server starts a
    new client at its latest keyframe, so the first segment of the restarted run holds up to a GOP
    of frames captured before the reconnection, and its start (wall clock at its end minus its
    media duration) may reach back to where the old run's footage ends."""
    found = gaps(sink, "cam-k")
    assert len(found) <= 1, found
    for gap in found:
        assert gap.reason is RecorderGapReason.RECORDER_STOPPED
        assert gap.detail.startswith("the recorder ended without a clean stop (killed"), gap  # not "was stopped"
        assert gap.start == last.end and gap.end == first.start
    if not found:
        assert (first.start - last.end).total_seconds() <= DEFAULT_GAP_TOLERANCE_S, (last, first)


def test_sigkill_of_the_recorder_lets_ffmpeg_close_its_segment_and_restart_ingests_all(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    root = tmp_path / "spool"
    spool = CameraSpool(root, "cam-k", max_bytes=10**9)
    run_id, killed_at = _record_then_sigkill(cam.url, root, spool, ffmpeg_too=False)
    left = spool.scan()
    # the guardian sent ffmpeg one SIGTERM: it wrote out its buffer, closed the half segment and listed it
    assert [f.state for f in left] == [FileState.FINISHED] * len(left) and len(left) >= 3

    sink, orphans = _restart_and_ingest(cam.url, root, s3_store, bucket, len(left))
    assert orphans == []  # ffmpeg had ended with the recorder
    recs = segments(sink, "cam-k")
    old = recs[: len(left)]
    assert [r.run_id for r in old] == [run_id] * len(left)
    assert [(r.partial, r.complete, r.readable) for r in old] == [(False, True, True)] * len(left)
    assert old[-1].key.endswith(left[-1].name) and old[-1].duration > 1.0
    assert_gap_after(sink, old[-1], recs[len(left)])
    # ffmpeg kept recording until it acted on the SIGTERM (it looks every PROGRESS_PERIOD_S): nothing lost
    assert -1.0 < (old[-1].end - killed_at).total_seconds() < PROGRESS_PERIOD_S + 1.0
    assert_covered(sink, "cam-k", tolerance=DEFAULT_GAP_TOLERANCE_S)
    assert [f for f in spool.scan() if f.run_id == run_id] == []


def test_sigkill_of_recorder_and_ffmpeg_then_restart_ingests_the_partial_segment_as_partial(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    root = tmp_path / "spool"
    spool = CameraSpool(root, "cam-k", max_bytes=10**9)
    run_id, killed_at = _record_then_sigkill(cam.url, root, spool, ffmpeg_too=True)
    left = spool.scan()
    assert [f.state for f in left][-1] is FileState.PARTIAL
    n_finished = sum(f.state is FileState.FINISHED for f in left)

    sink, orphans = _restart_and_ingest(cam.url, root, s3_store, bucket, len(left))
    assert orphans == []
    recs = segments(sink, "cam-k")
    old = recs[: len(left)]
    assert [r.run_id for r in old] == [run_id] * len(left)
    assert [r.partial for r in old] == [False] * n_finished + [True]
    assert old[-1].key.endswith(left[-1].name) and not old[-1].complete
    assert old[-1].readable and old[-1].duration > 1.0  # the 450 kB on disk decode: about 1.8 s
    assert_gap_after(sink, old[-1], recs[len(left)])
    # ffmpeg's unwritten buffer (at most 256 KiB, about 1 s at 2 Mbit/s) was lost: the file ends before the kill
    assert -2.0 < (old[-1].end - killed_at).total_seconds() < 1.0
    assert_covered(sink, "cam-k", tolerance=DEFAULT_GAP_TOLERANCE_S)
    assert [f for f in spool.scan() if f.run_id == run_id] == []


@pytest.fixture
def own_seaweed(tmp_path: Path) -> Iterator[EmbeddedSeaweed]:
    """A SeaweedFS of this test alone, so stopping it disturbs no other test."""
    server = EmbeddedSeaweed(tmp_path / "seaweed", buckets=("media",))  # made in its one-time Admin session
    server.start()
    yield server
    server.stop()


def test_store_down_spool_grows_nothing_is_lost_and_it_drains_when_back(
    sim_cameras: SimCameraFactory, own_seaweed: EmbeddedSeaweed, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    store = service_store_for(own_seaweed)  # the identity the service runs with
    store.ensure_bucket("media", object_lock=True)
    spec = RecordingSpec.create("cam-s", cam.url, segment_seconds=2)
    sink = MemorySink()
    recorder = make_recorder([spec], tmp_path / "spool", store, "media", sink)
    with recorder:
        wait_until(lambda: len(segments(sink, "cam-s")) >= 2, 30, "segments while the store is up")
        own_seaweed.stop()
        down_at = time.monotonic()
        wait_until(lambda: not recorder.status().store_available, 20, "the store to be seen down")
        wait_until(lambda: recorder.status().camera("cam-s").spool_backlog >= 5, 30, "a backlog")
        during = recorder.status()
        stuck = len(segments(sink, "cam-s"))
        own_seaweed.start()
        down_for = time.monotonic() - down_at
        wait_until(lambda: recorder.status().store_available, 30, "the store to be seen up")
        wait_until(lambda: recorder.status().camera("cam-s").spool_backlog == 0, 60, "the backlog to drain")
        after = recorder.status()
    cam_during = during.camera("cam-s")
    assert not during.store_available and during.store_error
    assert cam_during.state is CameraState.RECORDING  # recording went on
    assert cam_during.ingest.failures >= 1 and cam_during.spool.bytes_used > 1_000_000
    assert cam_during.spool_backlog >= 5
    recs = segments(sink, "cam-s")
    assert len(recs) >= stuck + cam_during.spool_backlog
    assert gaps(sink, "cam-s") == []
    assert_covered(sink, "cam-s", tolerance=CONTIGUOUS_S)
    assert after.camera("cam-s").spool.segments <= 2  # the one being written, perhaps one just closed
    assert CameraSpool(tmp_path / "spool", "cam-s", max_bytes=1).scan() == ()  # stop() drained the rest
    for r in recs:
        info = store.stat("media", r.key, r.version_id)
        assert info.size == r.size and info.metadata["sha256"] == r.sha256
    print(f"store down {down_for:.1f} s; backlog peak {cam_during.spool_backlog}; {len(recs)} segments stored")


def test_a_frozen_camera_times_out_and_recording_resumes_after_it_thaws(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    spec = RecordingSpec.create("cam-f", cam.url, segment_seconds=SEGMENT_SECONDS)
    sink = MemorySink()
    recorder = make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink)
    with recorder:
        wait_until(lambda: len(segments(sink, "cam-f")) >= 2, 30, "segments before the freeze")
        froze = utcnow()
        cam.freeze()  # TCP stays open, nothing arrives: only a timeout can tell
        try:
            wait_until(lambda: recorder.status().camera("cam-f").state is not CameraState.RECORDING, 20, "noticed")
            noticed = utcnow()
        finally:
            cam.thaw()
        thawed = utcnow()
        wait_until(lambda: recorder.status().camera("cam-f").state is CameraState.RECORDING, 20, "recording again")
        n = len(segments(sink, "cam-f"))
        wait_until(lambda: len(segments(sink, "cam-f")) >= n + 2, 30, "segments after the thaw")
    print(f"freeze noticed after {(noticed - froze).total_seconds():.1f} s; gaps {gaps(sink, 'cam-f')}")
    assert (noticed - froze).total_seconds() < 15  # -timeout 5 s; ffmpeg gives up after about 6 s
    (gap,) = gaps(sink, "cam-f")
    assert gap.reason in (RecorderGapReason.CAMERA_UNREACHABLE, RecorderGapReason.STALLED), gap
    assert abs((gap.start - froze).total_seconds()) < 1.5
    assert gap.end >= thawed - dt.timedelta(seconds=1)
    assert_covered(sink, "cam-f", tolerance=CONTIGUOUS_S)
