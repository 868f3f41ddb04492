"""The recorder against real RTSP cameras (GStreamer, archive.sim), real ffmpeg and a real SeaweedFS.

Helpers here are also used by test_recorder_resilience.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from archive.recorder.backoff import Backoff
from archive.recorder.ffmpeg import FILL_MISSING_PTS_BSF, RecordingSpec, build_argv, find_ffmpeg
from archive.recorder.ingest import Ingester
from archive.recorder.service import Recorder
from archive.recorder.sink import GapRecord, SegmentRecord
from archive.recorder.spool import CameraSpool
from archive.recorder.status import CameraState
from archive.recorder.supervisor import SupervisorSettings
from archive.sim.cameras import SYSTEM_PYTHON, ClipCache, Profile, SimCamera
from archive.storage.base import LockMode, ObjectStore, Retention
from tests.fixtures.cameras import SimCameraFactory, probe_frames
from tests.fixtures.memory_sink import MemorySink

SEGMENT_SECONDS = 4
CONTIGUOUS_S = 0.25  # |next.start - prev.end| within one ffmpeg run


def retention(camera_id: str, start: dt.datetime) -> Retention:
    return Retention(LockMode.GOVERNANCE, start + dt.timedelta(days=1))


def make_recorder(
    specs: Sequence[RecordingSpec],
    spool_root: Path,
    store: ObjectStore,
    bucket: str,
    sink: MemorySink,
    **settings: float,
) -> Recorder:
    ingester = Ingester(
        store,
        sink,
        bucket=bucket,
        retention=retention,
        workers=4,
        retry=Backoff(0.2, 2.0),
        store_retry=Backoff(0.5, 2.0),
    )
    return Recorder(specs, SupervisorSettings(spool_root, **settings), ingester=ingester)  # type: ignore[arg-type]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def segments(sink: MemorySink, camera_id: str) -> list[SegmentRecord]:
    return [e for e in sink.for_camera(camera_id) if isinstance(e, SegmentRecord)]


def gaps(sink: MemorySink, camera_id: str) -> list[GapRecord]:
    return [e for e in sink.for_camera(camera_id) if isinstance(e, GapRecord)]


def assert_covered(sink: MemorySink, camera_id: str, tolerance: float = 1.0) -> None:
    """Every second from the first segment to the last is in a segment or a gap, in order."""
    events = sink.for_camera(camera_id)
    seqs = [e.seq for e in events if isinstance(e, SegmentRecord)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"seq not contiguous: {seqs}"
    for prev, nxt in itertools.pairwise(events):
        hole = (nxt.start - prev.end).total_seconds()
        assert hole <= tolerance, f"{hole:.3f} s uncovered between {prev} and {nxt}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


# A camera whose every RTSP session starts a fresh encoder, so the first packet ffmpeg receives is
# an IDR frame of a B-frame stream. That first packet arrives with neither PTS nor DTS, which is
# what broke MPEG-TS segment output ("first pts and dts value must be set", exit 183). The
# simulated cameras of archive.sim run continuously (shared media, as a real camera), so a client
# joins mid-GOP, ffmpeg drops the leading non-keyframes and the failure shows only sometimes.
_FRESH_SESSION_SERVER = r"""
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer
Gst.init(None)
codec, bframes = sys.argv[1], int(sys.argv[2])
raw = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1 ! timeoverlay"
if codec == "h264":
    enc = (f"x264enc speed-preset=ultrafast key-int-max=50 bframes={bframes} b-adapt=false bitrate=1000 threads=1"
           " ! video/x-h264,profile=main ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96")
else:
    enc = (f'x265enc speed-preset=ultrafast key-int-max=50 bitrate=1000 log-level=error '
           f'option-string="bframes={bframes}:keyint=50:pools=1:frame-threads=1"'
           " ! h265parse config-interval=-1 ! rtph265pay name=pay0 pt=96")
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(f"( {raw} ! videoconvert ! {enc} )")
factory.set_shared(False)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service("0")
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print(f"READY {server.get_bound_port()}", flush=True)
GLib.io_add_watch(GLib.IOChannel.unix_new(0), GLib.IOCondition.HUP | GLib.IOCondition.IN, lambda *a: sys.exit(0))
GLib.MainLoop().run()
"""


@pytest.fixture
def fresh_session_camera(sim_clip_cache: ClipCache) -> Iterator[Callable[[str, int], str]]:
    """Factory ``(codec, bframes) -> rtsp url`` of a :data:`_FRESH_SESSION_SERVER` camera."""
    procs: list[subprocess.Popen[str]] = []

    def factory(codec: str, bframes: int) -> str:
        proc = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", _FRESH_SESSION_SERVER, codec, str(bframes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY "), line
        return f"rtsp://127.0.0.1:{int(line.split()[1])}/cam"

    yield factory
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def live_cameras(sim_clip_cache: ClipCache, tmp_path: Path) -> Iterator[Callable[..., SimCamera]]:
    """Factory for simulated cameras that encode in real time (x264/x265), e.g. with B-frames."""
    cams: list[SimCamera] = []

    def factory(codec: str = "h264", bframes: int = 2, size: tuple[int, int] = (640, 360)) -> SimCamera:
        profile = Profile(f"{codec}-live-b{bframes}", "live test camera", "live", codec, sizes=(size,), bframes=bframes)  # type: ignore[arg-type]
        cam = SimCamera(index=len(cams) + 1, profile=profile, workdir=tmp_path / "live-cams")
        cams.append(cam)
        cam.start()
        return cam

    yield factory
    for cam in cams:
        cam.stop()


def test_a_camera_recorded_for_25_seconds_gives_contiguous_stored_segments(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    (cam,) = sim_cameras(1, "h264")
    spec = RecordingSpec.create("cam-a", cam.url, segment_seconds=SEGMENT_SECONDS)
    sink = MemorySink()
    recorder = make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink)
    recorder.start()
    try:
        wait_until(lambda: recorder.status().camera("cam-a").state is CameraState.RECORDING, 15, "recording")
        pid = recorder.status().camera("cam-a").pid
        assert pid is not None
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(25)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        status = recorder.status().camera("cam-a")
    finally:
        recorder.stop()
    print(f"ffmpeg CPU: {cpu1 - cpu0:.2f} s over {t1 - t0:.1f} s = {(cpu1 - cpu0) / (t1 - t0) * 100:.2f} % of a core")
    assert status.state is CameraState.RECORDING and status.restarts == 1
    assert status.bitrate_bps is not None and 1e6 < status.bitrate_bps < 4e6  # the clip is 2 Mbit/s
    assert status.last_segment_at is not None and status.segments_ingested >= 4
    assert any("h264" in s for s in status.input_streams)
    recs = segments(sink, "cam-a")
    assert len(recs) >= 6, recs
    assert gaps(sink, "cam-a") == []
    assert [r.seq for r in recs] == list(range(len(recs)))
    for prev, nxt in itertools.pairwise(recs):
        assert nxt.start == prev.end  # one ffmpeg run: media clock continuity (SPEC.md 9.1)
        assert nxt.arrival_lag is not None and 0 <= nxt.arrival_lag < CONTIGUOUS_S
    for r in recs:
        assert r.video_codec == "h264" and (r.width, r.height) == (1280, 720)
        assert r.starts_with_keyframe and r.readable and r.complete and not r.partial, r
        assert r.end <= r.wall_end and abs((r.end - r.start).total_seconds() - r.duration) < CONTIGUOUS_S
    assert all(SEGMENT_SECONDS - 0.1 <= r.duration <= SEGMENT_SECONDS + 2.1 for r in recs[1:-1])
    info = s3_store.stat(bucket, recs[1].key, recs[1].version_id)
    assert info.size == recs[1].size and info.metadata["sha256"] == recs[1].sha256
    assert info.metadata["camera"] == "cam-a" and info.metadata["seq"] == "1"
    assert info.retention is not None and info.retention.mode is LockMode.GOVERNANCE
    assert CameraSpool(tmp_path / "spool", "cam-a", max_bytes=1).scan() == ()  # everything ingested and unlinked


@pytest.mark.parametrize(("codec", "ffprobe_codec"), [("h264", "h264"), ("h265", "hevc")])
def test_b_frames_over_rtsp_record_correctly(
    codec: str,
    ffprobe_codec: str,
    fresh_session_camera: Callable[[str, int], str],
    s3_store: ObjectStore,
    bucket: str,
    tmp_path: Path,
) -> None:
    url = fresh_session_camera(codec, 2)
    spec = RecordingSpec.create("cam-b", url, segment_seconds=SEGMENT_SECONDS)
    # Control: the same command without the PTS fill fails, as it did before (exit 183).
    control = tmp_path / "control"
    control.mkdir()
    argv = build_argv(spec, control / "x-%06d.ts", control / "x.csv", ffmpeg=find_ffmpeg())
    i = argv.index("-bsf:v")
    assert argv[i + 1] == FILL_MISSING_PTS_BSF
    del argv[i : i + 2]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and "first pts and dts value must be set" in result.stderr
    # The recorder's command records it, from the very first (IDR) packet on.
    sink = MemorySink()
    recorder = make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink)
    with recorder:
        wait_until(lambda: len(segments(sink, "cam-b")) >= 3, 40, "three B-frame segments")
    recs = segments(sink, "cam-b")
    assert recorder.status().camera("cam-b").restarts == 1
    assert gaps(sink, "cam-b") == []
    for r in recs:
        assert r.readable and r.starts_with_keyframe and r.video_codec == ffprobe_codec, r
        assert r.complete or r is recs[-1], r  # the last one was closed by the stop
    for prev, nxt in itertools.pairwise(recs):
        assert abs((nxt.start - prev.end).total_seconds()) < CONTIGUOUS_S
    first = tmp_path / "first.ts"
    first.write_bytes(s3_store.get_bytes(bucket, recs[0].key, recs[0].version_id))
    frames = probe_frames(str(first))
    assert frames[0].get("pict_type") == "I" and len(frames) >= 25 * SEGMENT_SECONDS - 5
    assert {"I", "P", "B"} <= {str(f.get("pict_type")) for f in frames}


@pytest.mark.parametrize("source", ["relay", "live-bframes"])
def test_h265(
    source: str,
    sim_cameras: SimCameraFactory,
    live_cameras: Callable[..., SimCamera],
    s3_store: ObjectStore,
    bucket: str,
    tmp_path: Path,
) -> None:
    cam = sim_cameras(1, "h265")[0] if source == "relay" else live_cameras("h265", bframes=2)
    spec = RecordingSpec.create("cam-h", cam.url, segment_seconds=SEGMENT_SECONDS)
    sink = MemorySink()
    with make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink):
        wait_until(lambda: len(segments(sink, "cam-h")) >= 3, 40, "three H.265 segments")
    recs = segments(sink, "cam-h")
    for r in recs:
        assert r.video_codec == "hevc" and r.readable and r.starts_with_keyframe, r
    assert_covered(sink, "cam-h", tolerance=CONTIGUOUS_S)


def test_resolution_change_and_audio(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    switching, with_audio = sim_cameras(2, ["resolution-change", "h264-audio"])
    specs = [
        RecordingSpec.create("cam-r", switching.url, segment_seconds=2),
        RecordingSpec.create("cam-s", with_audio.url, segment_seconds=SEGMENT_SECONDS),
    ]
    sink = MemorySink()
    with make_recorder(specs, tmp_path / "spool", s3_store, bucket, sink):
        wait_until(lambda: len(segments(sink, "cam-r")) >= 8 and len(segments(sink, "cam-s")) >= 3, 45, "segments")
    sizes = {(r.width, r.height) for r in segments(sink, "cam-r")}
    assert {(640, 360), (1280, 720)} <= sizes
    assert all(r.readable and r.starts_with_keyframe for r in segments(sink, "cam-r"))
    assert_covered(sink, "cam-r", tolerance=CONTIGUOUS_S)
    audio = segments(sink, "cam-s")
    assert all(r.audio_codec == "aac" and r.video_codec == "h264" for r in audio)
    assert not any("no packets" in p for r in audio for p in r.problems)
