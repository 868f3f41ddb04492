"""One-pass hash + probe of segment files (real files): the archive's probe and Debian's ffprobe as its oracle."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from archive.errors import ToolError
from archive.recorder.probe import probe_segment, sha256_file
from tests.fixtures.ffprobe_oracle import facts_from_ffprobe, ffprobe_segment, find_ffprobe

from .conftest import make_ts


def test_facts_of_a_good_segment(ts_template: Path) -> None:
    facts = ffprobe_segment(ts_template)
    data = ts_template.read_bytes()
    assert facts.sha256 == hashlib.sha256(data).hexdigest() == sha256_file(ts_template)[0]
    assert facts.size == len(data)
    assert facts.video_codec == "h264" and (facts.width, facts.height) == (320, 240)
    assert facts.starts_with_keyframe and facts.readable and facts.complete
    assert facts.duration == pytest.approx(2.0, abs=0.05)
    assert facts.video_packets == 50 and facts.audio_codec is None
    assert facts.max_video_gap == pytest.approx(0.04, abs=0.001)
    assert facts.problems == ()


def test_audio_is_reported(tmp_path: Path) -> None:
    facts = ffprobe_segment(make_ts(tmp_path / "a.ts", 1.0, audio=True))
    assert facts.audio_codec == "aac" and facts.audio_packets > 0


def test_a_truncated_file_is_readable_but_not_complete(ts_template: Path, tmp_path: Path) -> None:
    data = ts_template.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: len(data) // 2 + 77])
    facts = ffprobe_segment(cut)
    assert facts.readable and not facts.complete
    assert facts.sha256 == hashlib.sha256(cut.read_bytes()).hexdigest()
    assert any("truncated" in p for p in facts.problems)


def test_garbage_and_empty_files_are_unreadable_not_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"not a transport stream" * 1000)
    empty = tmp_path / "empty.ts"
    empty.write_bytes(b"")
    for path in (junk, empty):
        for facts in (ffprobe_segment(path), probe_segment(path), probe_segment(path, tool="ffmpeg")):
            assert not facts.readable and not facts.complete
            assert facts.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_file_raises_oserror(tmp_path: Path) -> None:
    for probe in (ffprobe_segment, probe_segment):
        with pytest.raises(OSError):
            probe(tmp_path / "gone.ts")


def test_missing_ffprobe_is_a_tool_error(tmp_path: Path, ts_template: Path) -> None:
    with pytest.raises(ToolError, match="ffprobe"):
        ffprobe_segment(ts_template, ffprobe=str(tmp_path / "ffprobe"))
    assert find_ffprobe() == (shutil.which("ffprobe") or "/usr/bin/ffprobe")
    with pytest.raises(ToolError, match="ffmpeg"):
        probe_segment(ts_template, tool="ffmpeg", ffmpeg=str(tmp_path / "ffmpeg"))


def test_pure_facts_keyframe_hole_and_duration() -> None:
    doc = {
        "streams": [{"index": 0, "codec_type": "video", "codec_name": "hevc", "width": 1280, "height": 720}],
        "packets": [
            {"stream_index": 0, "pts_time": "1.40", "duration_time": "0.04", "flags": "__"},
            {"stream_index": 0, "pts_time": "1.48", "duration_time": "0.04", "flags": "K_"},
            {"stream_index": 0, "pts_time": "1.44", "duration_time": "0.04", "flags": "__"},
            {"stream_index": 0, "pts_time": "4.00", "duration_time": "0.04", "flags": "__"},
        ],
    }
    facts = facts_from_ffprobe(json.dumps(doc).encode(), "", 0, size=188 * 10, sha256="00")
    assert facts.video_codec == "hevc" and not facts.starts_with_keyframe
    assert facts.duration == pytest.approx(2.64)
    assert facts.max_video_gap == pytest.approx(2.52)
    assert any("jump" in p for p in facts.problems)
    assert facts.complete


def test_ffmpeg_framecrc_gives_the_same_facts_as_ffprobe(ts_template: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.ts"
    cut.write_bytes(ts_template.read_bytes()[:30_000])
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"\x00" * 5000)
    for path in (ts_template, make_ts(tmp_path / "a.ts", 1.0, audio=True, size="640x360"), cut, junk):
        a = ffprobe_segment(path)
        b = probe_segment(path, tool="ffmpeg")
        same = ("size", "sha256", "video_codec", "width", "height", "starts_with_keyframe", "audio_codec")
        assert [getattr(a, f) for f in same] == [getattr(b, f) for f in same], path
        assert (a.video_packets, a.audio_packets, a.readable) == (b.video_packets, b.audio_packets, b.readable)
        assert a.duration == pytest.approx(b.duration, abs=0.001)
        assert a.max_video_gap == pytest.approx(b.max_video_gap, abs=0.001)
