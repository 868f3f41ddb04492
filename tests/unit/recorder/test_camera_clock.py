"""The camera-clock readers (archive.recorder.camera_clock): framecrc lines of ffmpeg 9 and Debian's
5.1 as they print them, ``prft`` boxes, the pairing into the run's sidecar and the lookup of a
segment's ``camera_start`` (SPEC.md 2.2, 9.1)."""

from __future__ import annotations

import struct
from pathlib import Path

from archive.recorder.camera_clock import (
    NTP_UNIX_OFFSET_S,
    PENDING,
    CameraClockTracker,
    CameraTimes,
    FramecrcReader,
    PrftReader,
)

# as ffmpeg 9.0.2 (imageio-ffmpeg) printed them for a GStreamer camera
FF9 = (b"#tb 0: 1/90000\n#media_type 0: video\n"
       b"0,      46800,      46800,     3600,    35320, 0x1f3565f4\n"
       b"0,     226800,     226800,     3600,    24953, 0x2c32a6ec, S=2, RTCP Sender Report,       32, 0xb55b081f, "
       b"Producer Reference Time,       16, 0x28fa02f1\n"
       b"0,     406800,     406800,     3600,    24416, 0xf6ec4438, S=1, Producer Reference Time,       16, "
       b"0x2a690314\n")
# as Debian's ffmpeg 5.1 prints them (sizes, no names, no hashes)
FF5 = (b"#tb 0: 1/90000\n0,      50400,      50400,     3600,    24416, 0xf6ec4438\n"
       b"0,     230400,     230400,     3600,    25345, 0x139063e0, S=1,       16\n")


def test_framecrc_lines_of_both_ffmpeg_versions_say_which_key_frames_had_a_sender_report() -> None:
    reader = FramecrcReader()
    got = reader.feed(FF9[:100]) + reader.feed(FF9[100:])  # lines split across reads
    assert [(round(p, 6), sr) for p, sr in got] == [(0.52, False), (2.52, True), (4.52, True)]
    assert [(round(p, 6), sr) for p, sr in FramecrcReader().feed(FF5)] == [(0.56, False), (2.56, True)]


def _ntp(unix_us: int) -> int:
    seconds, micro = divmod(unix_us, 1_000_000)
    return ((seconds + NTP_UNIX_OFFSET_S) << 32) | ((micro << 32) // 1_000_000 + 1)


def prft(unix_us: int, media: int) -> bytes:
    return struct.pack(">I4sB3sIQQ", 32, b"prft", 1, (24).to_bytes(3, "big"), 1, _ntp(unix_us), media)


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4(*frames: tuple[int, int]) -> bytes:
    out = box(b"ftyp", b"isom" + bytes(4)) + box(b"moov", bytes(100))
    for unix_us, media in frames:
        out += prft(unix_us, media) + box(b"moof", bytes(40)) + box(b"mdat", bytes(30_000))
    return out


def test_prft_boxes_are_read_in_order_whatever_the_reads_and_media_bytes_are_not_kept() -> None:
    data = mp4((1_796_659_678_380_000, 0), (1_796_659_680_380_000, 180000))
    reader = PrftReader()
    got = [b for i in range(0, len(data), 4096) for b in reader.feed(data[i : i + 4096])]
    assert got == [(1_796_659_678_380_000, 0), (1_796_659_680_380_000, 180000)]
    assert len(reader._buf) < 4096


def test_the_tracker_pairs_lines_and_boxes_and_never_writes_ffmpegs_own_clock(tmp_path: Path) -> None:
    path = tmp_path / "run.camtime"
    tracker = CameraClockTracker(path, "cam1")
    assert path.exists() and path.read_text() == ""  # created at once: key frames are coming
    local = 1_796_659_700_000_000  # ffmpeg's own clock in the first box: the frame had no SR
    tracker.mp4(mp4((local, 0), (1_796_659_680_380_000, 180000), (1_796_659_682_380_000, 360000)))
    tracker.framecrc(FF9)
    assert path.read_text() == "0.520000 -\n2.520000 1796659680380000\n4.520000 1796659682380000\n"
    assert tracker.broken is None


def test_outputs_that_disagree_stop_the_camera_times_of_the_run(tmp_path: Path) -> None:
    tracker = CameraClockTracker(tmp_path / "run.camtime", "cam1")
    tracker.framecrc(FF9)
    tracker.mp4(mp4((1, 0), (2, 180000), (3, 999999)))  # the third box is not the third line's frame
    assert tracker.broken is not None
    assert (tmp_path / "run.camtime").read_text().count("\n") == 2


def test_a_segment_gets_its_key_frames_camera_time_or_one_extrapolated_by_pts(tmp_path: Path) -> None:
    path = tmp_path / "run.camtime"
    path.write_text("0.000000 -\n0.520000 -\n2.520000 1000000000\n")  # the run's first packet, then key frames
    times = CameraTimes(path)
    # the first segment starts before the first key frame with a camera time: extrapolated back
    assert times.camera_start(0.0, more_coming=False) == 1000000000 - 2_520_000
    assert times.camera_start(2.52, more_coming=False) == 1000000000  # starts with that key frame
    assert times.camera_start(4.52, more_coming=True) == PENDING  # its key frame is not written yet
    assert times.camera_start(4.52, more_coming=False) == 1000000000 + 2_000_000  # run over: nearest one
    with path.open("a") as fh:
        fh.write("4.520000 1002000500\n")
    assert times.camera_start(4.52, more_coming=True) == 1002000500  # the camera's own latest mapping
    assert times.camera_start(None, more_coming=False) is None  # a partial file: not listed


def test_no_sender_report_means_no_camera_time(tmp_path: Path) -> None:
    path = tmp_path / "run.camtime"
    path.write_text("0.000000 -\n2.000000 -\n4.000000 -\n")
    times = CameraTimes(path)
    assert [times.camera_start(s, s + 2, more_coming=True) for s in (0.0, 2.0)] == [None, None]
    assert times.camera_start(4.0, 6.0, more_coming=True) == PENDING  # young run: an SR may still come
    assert times.camera_start(4.0, 6.0, more_coming=False) is None
    assert CameraTimes(tmp_path / "missing.camtime").camera_start(0.0, more_coming=False) is None


def test_a_key_frame_too_far_away_gives_no_camera_time(tmp_path: Path) -> None:
    path = tmp_path / "run.camtime"
    path.write_text("0.000000 5000000\n40.000000 -\n")
    assert CameraTimes(path).camera_start(40.0, more_coming=False) is None


def test_early_in_a_run_a_segment_waits_for_the_first_sender_report(tmp_path: Path) -> None:
    path = tmp_path / "run.camtime"
    path.write_text("0.000000 -\n")
    times = CameraTimes(path)
    assert times.camera_start(0.0, 3.96, more_coming=True) == PENDING  # the SR may come with the next key frame
    with path.open("a") as fh:
        fh.write("1.960000 1000000000\n")
    assert times.camera_start(0.0, 3.96, more_coming=True) == 1000000000 - 1_960_000


def test_a_run_without_any_sender_report_stops_waiting_for_one(tmp_path: Path) -> None:
    path = tmp_path / "run.camtime"
    path.write_text("".join(f"{2.0 * i:.6f} -\n" for i in range(7)))  # 12 s of key frames, none with an SR
    assert CameraTimes(path).camera_start(12.0, 14.0, more_coming=True) is None


def test_outputs_that_give_no_key_frame_at_all_hold_segments_only_early_in_the_run(tmp_path: Path) -> None:
    path = tmp_path / "run.camtime"
    path.write_text("")
    times = CameraTimes(path)
    assert times.camera_start(0.0, 4.0, more_coming=True) == PENDING
    assert times.camera_start(12.0, 14.0, more_coming=True) is None


def test_a_coarse_framecrc_time_base_takes_the_pts_from_the_mp4_media_time(tmp_path: Path) -> None:
    # Debian's 5.1 behind a tee prints framecrc in 1/25 s (1.24 s, 3.24 s): the 90 kHz media time rules
    crc = b"#tb 0: 1/25\n0,         31,         31,        1,    24416, 0xf6ec4438, S=1,       16\n" \
          b"0,         81,         81,        1,    25345, 0x139063e0, S=1,       16\n"  # fmt: skip
    tracker = CameraClockTracker(tmp_path / "run.camtime", "cam1")
    tracker.framecrc(crc)
    tracker.mp4(mp4((1_000_000_000, 7), (1_002_000_000, 7 + 180000)))
    assert tracker.broken is None
    assert (tmp_path / "run.camtime").read_text() == "1.240000 1000000000\n3.240000 1002000000\n"


def test_the_segment_lists_shift_of_a_b_frame_run_is_taken_from_the_runs_first_packet(tmp_path: Path) -> None:
    # measured (h264-bframes): the key-frame output's first packet at -0.08 s, the list's segments at
    # 3.96 s and 5.96 s where that output has the key frames at 3.88 s and 5.88 s
    path = tmp_path / "run.camtime"
    path.write_text("-0.080000 1000000000\n3.880000 1003960000\n5.880000 1005960000\n")
    times = CameraTimes(path)
    assert times.camera_start(0.0, 3.96, more_coming=True) == 1000000000
    assert times.camera_start(3.96, 5.96, more_coming=True) == 1003960000  # its own key frame, not 80 ms off
    assert times.camera_start(5.96, 7.96, more_coming=True) == 1005960000
