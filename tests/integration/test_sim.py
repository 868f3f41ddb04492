"""The simulated cameras serve real RTSP that ffmpeg pulls and ffprobe reads (no mocks)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from archive.errors import ToolError, UserError
from archive.sim.bulk import BulkCameraSet
from archive.sim.cameras import (
    PROFILES,
    ClipCache,
    RtspError,
    SimulatedCameraSet,
    _sdp_to_rtp_fields,
    check_gstreamer,
    find_ffmpeg,
    rtsp_describe,
)
from tests.fixtures.cameras import SimCameraFactory, probe_frames, probe_packets, probe_streams, pull
from tests.fixtures.ports import free_ports

REPO = Path(__file__).resolve().parents[2]


def _video(streams: list[dict[str, object]]) -> dict[str, object]:
    return next(s for s in streams if s["codec_type"] == "video")


def _frame_count(path: Path) -> int:
    return len(probe_packets(str(path)))


def _process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_h264_camera_can_be_pulled_with_stream_copy(sim_cameras: SimCameraFactory, tmp_path: Path) -> None:
    camera = sim_cameras(1, "h264")[0]
    assert camera.url == f"rtsp://127.0.0.1:{camera.port}/cam1"

    out = tmp_path / "pull.ts"
    result = pull(camera.url, 3, out)
    assert result.returncode == 0, result.stderr

    video = _video(probe_streams(str(out)))
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)
    # 3 s at 25 fps, less what preceded the first IDR (ffmpeg's stream copy starts at a keyframe,
    # and the relay joins its loop anywhere in a 2 s GOP).
    assert 25 <= len(probe_packets(str(out))) <= 80
    types = Counter(str(f["pict_type"]) for f in probe_frames(str(out)))  # decodable from the first IDR
    assert types["I"] >= 1 and types["P"] > 0 and types["B"] == 0, types


def test_stream_facts_seen_over_rtsp(sim_cameras: SimCameraFactory) -> None:
    h264, h265, audio = sim_cameras(3, ["h264", "h265", "h264-audio"])

    video = _video(probe_streams(h264.url))
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)
    assert video["r_frame_rate"] == "25/1"

    video = _video(probe_streams(h265.url))
    assert (video["codec_name"], video["width"], video["height"]) == ("hevc", 1280, 720)

    kinds = {str(s["codec_type"]): s for s in probe_streams(audio.url)}
    assert kinds["video"]["codec_name"] == "h264"
    assert kinds["audio"]["codec_name"] == "aac"
    assert kinds["audio"]["sample_rate"] == "48000"


def test_h265_and_audio_survive_stream_copy(sim_cameras: SimCameraFactory, tmp_path: Path) -> None:
    h265, audio = sim_cameras(2, ["h265", "h264-audio"])

    out = tmp_path / "h265.ts"
    result = pull(h265.url, 3, out)
    assert result.returncode == 0, result.stderr
    assert _video(probe_streams(str(out)))["codec_name"] == "hevc"
    assert _frame_count(out) >= 20

    out = tmp_path / "audio.mkv"
    result = pull(audio.url, 3, out)
    assert result.returncode == 0, result.stderr
    assert sorted(str(s["codec_name"]) for s in probe_streams(str(out))) == ["aac", "h264"]


def test_bframes_profile_really_sends_b_frames(sim_cameras: SimCameraFactory) -> None:
    camera = sim_cameras(1, "h264-bframes")[0]
    frames = probe_frames(camera.url, seconds=3)
    types = Counter(str(f["pict_type"]) for f in frames)
    assert types["B"] >= 20, types
    assert types["P"] > 0, types
    # Presentation order differs from decoding order: the timestamps reach the client intact.
    pts = [int(str(f["pts"])) for f in frames if f.get("pts") not in (None, "N/A")]
    steps = Counter(b - a for a, b in itertools.pairwise(pts))
    assert steps.most_common(1)[0][0] == 3600, steps  # 90 kHz / 25 fps: a regular cadence


@pytest.mark.parametrize("profile", ["h264", "h265", "h264-live"])
def test_profiles_without_b_frames_send_none(sim_cameras: SimCameraFactory, profile: str) -> None:
    camera = sim_cameras(1, profile)[0]
    types = Counter(str(f["pict_type"]) for f in probe_frames(camera.url, seconds=3))
    assert types["B"] == 0 and types["I"] >= 1 and types["P"] > 5, types  # decodable from the first IDR


def test_resolution_change_camera_changes_size_mid_stream(sim_cameras: SimCameraFactory, tmp_path: Path) -> None:
    camera = sim_cameras(1, "resolution-change")[0]
    out = tmp_path / "pull.ts"
    result = pull(camera.url, 8, out)  # sizes switch every 5 s; up to 2 s precede the first IDR
    assert result.returncode == 0, result.stderr
    sizes = [(f["width"], f["height"]) for f in probe_frames(str(out))]
    runs = [s for i, s in enumerate(sizes) if i == 0 or sizes[i - 1] != s]
    assert set(sizes) == {(640, 360), (1280, 720)}, Counter(sizes)
    assert len(runs) >= 2, runs


def test_stop_drops_clients_and_start_serves_the_same_url_again(sim_cameras: SimCameraFactory, tmp_path: Path) -> None:
    cameras = sim_cameras(2, "h264")
    down, other = cameras[0], cameras[1]
    url = down.url
    pgid = down.pid
    assert pgid is not None

    cmd = [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url]
    cmd += ["-c", "copy", "-f", "mpegts", "-y", str(tmp_path / "cut.ts")]
    running = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        assert running.poll() is None, running.stderr.read() if running.stderr else ""
        down.stop()
        assert not down.is_running
        running.wait(timeout=10)  # the open RTSP session ends, like a camera losing power
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    assert _frame_count(tmp_path / "cut.ts") > 0
    assert not _process_group_alive(pgid), "the server or its feeder outlived stop()"

    with pytest.raises(RtspError, match="refused"):
        rtsp_describe(url, timeout=2)
    failed = pull(url, 1, tmp_path / "never.ts", timeout=20)
    assert failed.returncode != 0

    assert rtsp_describe(other.url).startswith("v=0")  # the others do not notice

    started = time.monotonic()
    down.start()
    assert time.monotonic() - started < 5
    assert down.url == url
    result = pull(url, 3, tmp_path / "again.ts")
    assert result.returncode == 0, result.stderr
    assert _frame_count(tmp_path / "again.ts") >= 20


def test_freeze_stalls_without_closing_and_thaw_resumes(sim_cameras: SimCameraFactory) -> None:
    camera = sim_cameras(1, "h264")[0]
    camera.freeze()
    try:
        with pytest.raises(RtspError, match="timed out"):
            rtsp_describe(camera.url, timeout=1.5)
    finally:
        camera.thaw()
    assert rtsp_describe(camera.url, timeout=5).startswith("v=0")


def test_eight_cameras_at_once(sim_cameras: SimCameraFactory, tmp_path: Path) -> None:
    started = time.monotonic()
    cameras = sim_cameras(8, "h264")
    assert time.monotonic() - started < 20
    assert len({c.url for c in cameras}) == 8

    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def one(index: int, url: str) -> None:
        results[url] = pull(url, 3, tmp_path / f"cam{index}.ts")

    threads = [threading.Thread(target=one, args=(i, c.url)) for i, c in enumerate(cameras)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 8
    for index, camera in enumerate(cameras):
        assert results[camera.url].returncode == 0, results[camera.url].stderr
        assert _frame_count(tmp_path / f"cam{index}.ts") >= 20


def test_fixed_ports_from_port_base(sim_cameras: SimCameraFactory) -> None:
    base = free_ports(2, consecutive=True)[0]
    cameras = sim_cameras(2, "h264", port_base=base)
    assert cameras.urls == [f"rtsp://127.0.0.1:{base}/cam1", f"rtsp://127.0.0.1:{base + 1}/cam2"]


def test_port_in_use_is_a_clear_tool_error(sim_cameras: SimCameraFactory) -> None:
    busy = sim_cameras(1, "h264")[0]
    with pytest.raises(ToolError, match="port is in use"):
        sim_cameras(1, "h264", port_base=busy.port)


def test_simulator_entry_prints_urls_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive.sim.cameras", "2", "h264,h265"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[2].startswith("Simulating 2 camera(s)"), [*lines, proc.stderr.read() if proc.stderr else ""]
        urls = {line.split()[0]: line.split()[2] for line in lines[:2]}
        assert lines[0].split()[1] == "h264" and lines[1].split()[1] == "h265"
        for url in urls.values():
            assert rtsp_describe(url).startswith("v=0")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        for url in urls.values():
            with pytest.raises(RtspError):
                rtsp_describe(url, timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_missing_gstreamer_bindings_are_a_tool_error_naming_the_install_script() -> None:
    # The venv's Python cannot import gi: exactly the situation the check is for.
    with pytest.raises(ToolError, match=r"install-debian-packages\.sh"):
        check_gstreamer(sys.executable)
    with pytest.raises(ToolError, match=r"install-debian-packages\.sh"):
        check_gstreamer("/nonexistent/python3")


def test_bad_arguments_are_user_errors() -> None:
    with pytest.raises(UserError, match="known profiles: h264"):
        SimulatedCameraSet(1, "mjpeg")
    with pytest.raises(UserError):
        SimulatedCameraSet(0)
    with pytest.raises(UserError):
        SimulatedCameraSet(2, port_base=65535)
    assert set(PROFILES) >= {"h264", "h264-bframes", "h265", "h264-audio", "resolution-change", "h264-live"}


def test_sdp_from_ffmpeg_becomes_rtp_caps() -> None:
    sdp = (
        "v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z01AH9o=,aO88gA==; profile-level-id=4D401F\r\n"
        "m=audio 9 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/1\r\n"
        "a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=1188\r\n"
    )
    fields = _sdp_to_rtp_fields(sdp)
    assert fields["video"] == {
        "payload": 96,
        "encoding-name": "H264",
        "clock-rate": 90000,
        "packetization-mode": "1",
        "sprop-parameter-sets": "Z01AH9o=,aO88gA==",
        "profile-level-id": "4D401F",
    }
    assert fields["audio"]["encoding-params"] == "1"
    assert fields["audio"]["config"] == "1188"
    assert fields["audio"]["clock-rate"] == 48000


@pytest.mark.parametrize("server", ["lite", "gst"])
def test_bulk_mode_serves_many_cameras_from_one_process(server: str, sim_clip_cache: ClipCache, tmp_path: Path) -> None:
    n = 12
    with BulkCameraSet(n, "h264", server=server, cache=sim_clip_cache, workdir=tmp_path / "bulk") as cameras:
        assert cameras.urls == [f"rtsp://127.0.0.1:{cameras.port}/cam{i}" for i in range(1, n + 1)]
        pgid = cameras.pid
        assert pgid is not None
        with pytest.raises(RtspError, match="404"):
            rtsp_describe(f"rtsp://127.0.0.1:{cameras.port}/cam{n + 1}")
        # One real ffmpeg client per camera, all at once, cutting 2 s segments (one GOP each).
        clients = []
        for index, url in enumerate(cameras.urls):
            out = tmp_path / f"cam{index + 1}"
            out.mkdir()
            cmd = [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-t", "9"]
            cmd += ["-map", "0", "-c", "copy", "-f", "segment", "-segment_time", "2", "-reset_timestamps", "1"]
            clients.append(subprocess.Popen([*cmd, str(out / "%03d.ts")], stderr=subprocess.PIPE, text=True))
        for client in clients:
            _, err = client.communicate(timeout=60)
            assert client.returncode == 0, err
    assert not _process_group_alive(pgid), "the server or a feeder outlived close()"
    with pytest.raises(RtspError):
        rtsp_describe(cameras.urls[0], timeout=2)

    first_keyframes = set()
    for index in range(1, n + 1):
        segments = sorted((tmp_path / f"cam{index}").glob("*.ts"))
        assert len(segments) >= 4, (index, segments)
        for position, segment in enumerate(segments[:-1]):  # the last one is cut short by -t
            packets = probe_packets(str(segment))
            assert "K" in str(packets[0]["flags"])  # every segment starts with a keyframe
            if position:  # the first one's length depends on where the client joined
                assert len(packets) == 50, (segment, len(packets))  # 2 s at 25 fps
        frames = probe_frames(str(segments[1]))
        assert len(frames) == 50
        assert (frames[0]["pict_type"], frames[0]["width"], frames[0]["height"]) == ("I", 1280, 720)
        assert Counter(str(f["pict_type"]) for f in frames) == {"I": 1, "P": 49}
        decode = subprocess.run(
            [find_ffmpeg(), "-v", "error", "-i", str(segments[1]), "-f", "null", "-"], capture_output=True, text=True
        )
        assert decode.returncode == 0 and not decode.stderr.strip(), decode.stderr
        first_keyframes.add(str(probe_packets(str(segments[0]))[0].get("size")))
    # The cameras are not in lockstep: their first keyframes differ (different places in the clip).
    if server == "lite":
        assert len(first_keyframes) > 1


def test_bulk_mode_arguments_are_user_errors() -> None:
    with pytest.raises(UserError, match="B-frames"):
        BulkCameraSet(2, "h264-bframes")
    with pytest.raises(UserError, match="audio"):
        BulkCameraSet(2, "h264-audio")
    with pytest.raises(UserError, match=r"H\.264 profiles only"):
        BulkCameraSet(2, "h265")
    with pytest.raises(UserError):
        BulkCameraSet(0)
    with pytest.raises(UserError, match="bulk server"):
        BulkCameraSet(2, server="mediamtx")
