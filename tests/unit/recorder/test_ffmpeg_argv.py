"""The ffmpeg argv builder and the input-option allow-list."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ToolError, ValidationError
from archive.recorder.ffmpeg import (
    FILL_MISSING_PTS_BSF,
    KEY_FRAMES_BSF,
    RecordingSpec,
    build_argv,
    find_ffmpeg,
    redact_url,
    validate_input_options,
)

URL = "rtsp://user:secret@10.0.0.5:554/Streaming/Channels/101"
PATTERN = Path("/spool/cam1/20250101T000000000Z-%06d.ts")
LIST = Path("/spool/cam1/20250101T000000000Z.csv")


def argv_for(**kwargs: object) -> list[str]:
    spec = RecordingSpec.create("cam1", URL, **kwargs)  # type: ignore[arg-type]
    return build_argv(spec, PATTERN, LIST, ffmpeg="/usr/bin/ffmpeg")


def value_after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_argv_is_a_list_of_strings_with_the_url_as_one_element() -> None:
    argv = argv_for()
    assert all(isinstance(a, str) for a in argv)
    assert argv[0] == "/usr/bin/ffmpeg"
    assert value_after(argv, "-i") == URL
    assert argv[-1] == str(PATTERN)


def test_defaults_tcp_copy_segment_mpegts() -> None:
    argv = argv_for()
    i = argv.index("-i")
    assert value_after(argv, "-rtsp_transport") == "tcp" and argv.index("-rtsp_transport") < i
    assert value_after(argv, "-timeout") == "5000000" and argv.index("-timeout") < i
    assert argv[i + 2 :].count("-map") == 2
    assert "0:v" in argv and "0:a?" in argv
    assert value_after(argv, "-c") == "copy"
    assert value_after(argv, "-bsf:v") == FILL_MISSING_PTS_BSF
    assert value_after(argv, "-f") == "segment"
    assert value_after(argv, "-segment_format") == "mpegts"
    assert "-segment_format_options" not in argv  # flush_packets is off unless asked for
    assert value_after(argv, "-segment_time") == "10"
    assert value_after(argv, "-reset_timestamps") == "1"
    assert value_after(argv, "-segment_list") == str(LIST)
    assert value_after(argv, "-segment_list_type") == "csv"
    assert value_after(argv, "-progress") == "pipe:1"
    assert "-segment_atclocktime" not in argv
    assert "-use_wallclock_as_timestamps" not in argv


def test_flush_packets_when_asked_for_writes_each_packet_before_the_output_file() -> None:
    argv = argv_for(flush_packets=True)
    assert value_after(argv, "-segment_format_options") == "flush_packets=1"
    assert argv.index("-segment_format_options") < argv.index("-segment_time") < len(argv) - 1


def test_segment_length_and_audio_off() -> None:
    argv = argv_for(segment_seconds=4, audio=False)
    assert value_after(argv, "-segment_time") == "4"
    assert "0:a?" not in argv


@pytest.mark.parametrize("seconds", [1, 61, 0, -5])
def test_segment_length_outside_2_to_60_is_rejected(seconds: int) -> None:
    with pytest.raises(ValidationError, match="segment_seconds"):
        RecordingSpec.create("cam1", URL, segment_seconds=seconds)


def test_allowed_input_options_go_before_the_input_and_may_override_defaults() -> None:
    argv = argv_for(
        input_options={"-analyzeduration": 2_000_000, "probesize": "500000", "-fflags": "+genpts", "timeout": 9_000_000}
    )
    i = argv.index("-i")
    for flag, value in [("-analyzeduration", "2000000"), ("-probesize", "500000"), ("-fflags", "+genpts")]:
        assert value_after(argv, flag) == value and argv.index(flag) < i
    assert argv.count("-timeout") == 1 and value_after(argv, "-timeout") == "9000000"


def test_stimeout_is_renamed_timeout() -> None:
    assert validate_input_options({"-stimeout": "3000000"}) == (("timeout", "3000000"),)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"-f": "rtsp"}, "-f is not an allowed input option"),
        ({"-use_wallclock_as_timestamps": "1"}, "not an allowed"),
        ({"-i": "/etc/passwd"}, "not an allowed"),
        ({"-y": ""}, "not an allowed"),
        ({"-fflags": "+discardcorrupt"}, "accepts only the flags"),
        ({"-fflags": "+genpts;rm"}, "accepts only the flags"),
        ({"-rtsp_transport": "udp_multicast"}, "must be one of"),
        ({"-probesize": "lots"}, "whole number"),
        ({"-analyzeduration": "999999999999"}, "between"),
        ({"-user_agent": "x\ny"}, "printable"),
    ],
)
def test_rejected_input_options(options: dict[str, str], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        RecordingSpec.create("cam1", URL, input_options=options)
    assert fragment in str(info.value)
    assert all(p.where.startswith("cameras.cam1.input_options") for p in info.value.problems)


def test_every_problem_is_reported_and_duplicates_too() -> None:
    with pytest.raises(ValidationError) as info:
        validate_input_options([("-vf", "x"), ("probesize", "100"), ("-probesize", "200"), ("-map", "0")])
    assert len(info.value.problems) == 3
    assert "more than once" in str(info.value)


@pytest.mark.parametrize("url", ["http://cam/x", "rtsp://", "file:///etc/passwd", "rtsp://host/a b", "-i"])
def test_bad_urls_are_rejected(url: str) -> None:
    with pytest.raises(ValidationError, match="url"):
        RecordingSpec.create("cam1", url)


@pytest.mark.parametrize("camera_id", ["", "../x", "a/b", "-cam", "x" * 65, "cam 1"])
def test_bad_camera_ids_are_rejected(camera_id: str) -> None:
    with pytest.raises(ValidationError, match="camera id"):
        RecordingSpec.create(camera_id, URL)


def test_pattern_needs_one_index_placeholder() -> None:
    spec = RecordingSpec.create("cam1", URL)
    with pytest.raises(ValueError, match="%06d"):
        build_argv(spec, Path("/spool/cam1/x-%Y.ts"), LIST, ffmpeg="ffmpeg")


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url(URL) == "rtsp://user:***@10.0.0.5:554/Streaming/Channels/101"
    assert redact_url("rtsp://cam/x") == "rtsp://cam/x"
    assert RecordingSpec.create("cam1", URL).display_url.count("secret") == 0


def test_find_ffmpeg_explicit_missing_raises_tool_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError):
        find_ffmpeg(tmp_path / "nope")
    assert find_ffmpeg()  # imageio-ffmpeg's binary is installed here


def test_camera_clock_outputs_follow_the_recording_and_write_into_the_given_pipes() -> None:
    spec = RecordingSpec.create("cam1", URL, camera_clock=True)
    argv = build_argv(spec, PATTERN, LIST, ffmpeg="/usr/bin/ffmpeg", camera_clock_fds=(7, 9))
    assert argv[: argv.index(str(PATTERN)) + 1] == argv_for()  # the recording itself is unchanged
    assert argv[argv.index(str(PATTERN)) + 1 :] == [
        "-map", "0:v:0", "-c", "copy", "-bsf:v", KEY_FRAMES_BSF, "-f", "tee",
        "[f=framecrc:onfail=ignore:flush_packets=1]pipe:7|[f=mp4:onfail=ignore:movflags=+frag_keyframe+empty_moov"
        ":write_prft=wallclock:video_track_timescale=90000:flush_packets=1]pipe:9|[f=null]-",
    ]  # fmt: skip
    assert KEY_FRAMES_BSF == FILL_MISSING_PTS_BSF + r",noise=drop=not(key)*gt(n\,0)"


def test_camera_clock_off_leaves_the_argv_of_the_recording_alone() -> None:
    spec = RecordingSpec.create("cam1", URL, camera_clock=False)
    assert build_argv(spec, PATTERN, LIST, ffmpeg="/usr/bin/ffmpeg", camera_clock_fds=(7, 9)) == argv_for()
