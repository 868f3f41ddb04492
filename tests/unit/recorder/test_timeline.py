"""The state timeline that gap reasons come from: pieces, merging, URLs never kept (SPEC.md 2.3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from archive.recorder.sink import RecorderGapReason
from archive.recorder.timeline import NOT_RUNNING, StateTimeline, without_urls

T0 = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_gap_over_several_states_is_split_at_each_change() -> None:
    tl = StateTimeline()
    tl.start(at(0))
    tl.recording(at(1))
    tl.mark(at(30), RecorderGapReason.STALLED, "ffmpeg made no progress for 20 s")
    tl.mark(at(31), RecorderGapReason.CAMERA_UNREACHABLE, "connection refused by 127.0.0.1:8554 (1 attempt)")
    tl.mark(at(45), RecorderGapReason.CAMERA_UNREACHABLE, "connection refused by 127.0.0.1:8554 (9 attempts)")
    tl.recording(at(60))
    pieces = tl.explain(at(10), at(60), 1.0)
    assert [(p.start, p.end, p.reason) for p in pieces] == [
        (at(10), at(31), RecorderGapReason.STALLED),  # recording until the watchdog noticed: why the run ended
        (at(31), at(60), RecorderGapReason.CAMERA_UNREACHABLE),
    ]
    assert pieces[1].detail == "connection refused by 127.0.0.1:8554 (9 attempts)"  # one state, newest count


def test_time_before_the_recorder_started_is_recorder_stopped() -> None:
    tl = StateTimeline()
    tl.start(at(100))
    tl.mark(at(100.5), RecorderGapReason.CAMERA_UNREACHABLE, "connection refused by cam:554 (3 attempts)")
    pieces = tl.explain(at(0), at(130), 1.0)
    assert [(p.start, p.end, p.reason) for p in pieces] == [
        (at(0), at(100.5), RecorderGapReason.RECORDER_STOPPED),  # its 0.5 s of starting is the same reason
        (at(100.5), at(130), RecorderGapReason.CAMERA_UNREACHABLE),
    ]
    assert pieces[0].detail == f"{NOT_RUNNING} (it started at 2025-03-01T12:01:40.000000Z)"


def test_without_any_mark_the_reason_is_recorder_stopped() -> None:
    (piece,) = StateTimeline().explain(at(0), at(50), 1.0)
    assert (piece.reason, piece.detail) == (RecorderGapReason.RECORDER_STOPPED, NOT_RUNNING)


def test_urls_never_reach_a_detail() -> None:
    tl = StateTimeline()
    tl.mark(at(0), RecorderGapReason.FFMPEG_EXIT, "Error opening input rtsp://admin:s3cret@10.0.0.9/h264: Invalid data")
    (piece,) = tl.explain(at(0), at(10), 1.0)
    assert "s3cret" not in piece.detail and "rtsp://" not in piece.detail
    assert without_urls("x http://a:b@c/d y") == "x <URL> y"


def test_old_marks_are_forgotten_once_logged_but_the_one_in_force_stays() -> None:
    tl = StateTimeline()
    tl.mark(at(0), RecorderGapReason.STALLED, "a")
    tl.mark(at(10), RecorderGapReason.CAMERA_UNREACHABLE, "b")
    tl.recording(at(20))
    tl.forget_before(at(15))
    assert [m.at for m in tl.marks()] == [at(10), at(20)]


def test_the_marks_survive_a_restart_and_stay_small(tmp_path: Path) -> None:
    path = tmp_path / "states.jsonl"
    first = StateTimeline(path=path)
    first.start(at(0))
    first.recording(at(1))
    first.mark(at(20), RecorderGapReason.CAMERA_UNREACHABLE, "exit status 1: Connection refused")
    for n in range(1, 200):
        first.mark(at(20 + n), RecorderGapReason.CAMERA_UNREACHABLE, f"connection refused by cam:554 ({n} attempts)")
    first.recording(at(230))
    first.mark(at(300), RecorderGapReason.RECORDER_STOPPED, "the recorder was stopped")
    assert len(path.read_text().splitlines()) < 80  # 200 updates of one state, compacted
    path.write_text(path.read_text() + '{"at": "2025-03-01T12:05:0')  # a line cut by a crash
    second = StateTimeline(path=path)  # the next recorder process
    second.start(at(400))
    pieces = second.explain(at(15), at(230), 1.0)
    assert [(p.start, p.end, p.reason) for p in pieces] == [(at(15), at(230), RecorderGapReason.CAMERA_UNREACHABLE)]
    assert pieces[0].detail == "connection refused by cam:554 (199 attempts)"
    (down,) = second.explain(at(300), at(401), 1.0)
    assert down.reason is RecorderGapReason.RECORDER_STOPPED
    assert down.detail == (
        "the recorder was stopped at 2025-03-01T12:05:00.000000Z and started again at 2025-03-01T12:06:40.000000Z"
    )


def test_a_recorder_that_ended_without_a_clean_stop_is_told_apart_from_a_stop(tmp_path: Path) -> None:
    """SIGKILL, a crash or a power cut leaves no stop mark: the next run says so, not "stopped"."""
    path = tmp_path / "states.jsonl"
    first = StateTimeline(path=path)
    first.start(at(0))
    first.recording(at(1))  # ... killed while recording: no "stopped" mark is ever written
    second = StateTimeline(path=path)
    second.start(at(400))
    (down,) = second.explain(at(90), at(401), 1.0)
    assert down.reason is RecorderGapReason.RECORDER_STOPPED
    assert down.detail == (
        "the recorder ended without a clean stop (killed, crashed or powered off) and started again at "
        "2025-03-01T12:06:40.000000Z"
    )
