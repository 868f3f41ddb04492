"""Exit classification and backoff arithmetic."""

from __future__ import annotations

import pytest

from archive.errors import ConfigError
from archive.recorder.backoff import Backoff
from archive.recorder.process import classify_exit
from archive.recorder.sink import RecorderGapReason


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        (
            ["[error] [tcp @ 0x1] Connection to tcp://10.0.0.5:554 failed: Connection refused"],
            RecorderGapReason.CAMERA_UNREACHABLE,
        ),
        (["[error] [in#0/rtsp @ 0x1] Failed reading RTSP data: End of file"], RecorderGapReason.CAMERA_UNREACHABLE),
        (["[error] [in#0/rtsp @ 0x1] Error during demuxing: Connection timed out"],
         RecorderGapReason.CAMERA_UNREACHABLE),
        (["[error] [rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized"], RecorderGapReason.CAMERA_REJECTED),
        (["[fatal] Error opening output files: Invalid argument"], RecorderGapReason.FFMPEG_EXIT),
        ([], RecorderGapReason.FFMPEG_EXIT),
    ],
)
def test_classify_exit(log: list[str], reason: RecorderGapReason) -> None:
    got, detail = classify_exit(1, log)
    assert got is reason
    assert detail.startswith("exit status 1")


def test_the_detail_is_the_last_error_not_the_closing_statistics() -> None:
    log = [
        "[in#0/rtsp @ 0x55] [error] Failed reading RTSP data: End of file",
        "[out#0/segment @ 0x56] [info] video:231KiB audio:0KiB",
        "[info] frame=  281 fps= 28 q=-1.0 Lsize=N/A time=00:00:11.20",
    ]
    reason, detail = classify_exit(0, log)
    assert reason is RecorderGapReason.CAMERA_UNREACHABLE
    assert detail == "exit status 0: [in#0/rtsp @ 0x55] [error] Failed reading RTSP data: End of file"


def test_backoff_is_capped_exponential() -> None:
    b = Backoff(0.5, 2.0)
    assert [b.delay(n) for n in (0, 1, 2, 3, 4, 100)] == [0.5, 0.5, 1.0, 2.0, 2.0, 2.0]
    with pytest.raises(ConfigError):
        Backoff(0, 1)
    with pytest.raises(ConfigError):
        Backoff(2, 1)
