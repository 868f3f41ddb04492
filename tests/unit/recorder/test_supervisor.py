"""The supervisor's loop with stand-in ffmpeg programs: watchdog, reconnect states, spool limit."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.recorder.backoff import Backoff
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.service import Recorder
from archive.recorder.spool import CameraSpool
from archive.recorder.status import CameraState
from archive.recorder.supervisor import SupervisorSettings

FAKES = {
    "hang": "import time\nwhile True: time.sleep(1)\n",
    "refused": (
        "import sys\nsys.stderr.write('[error] [tcp @ 0x1] Connection to tcp://x failed: Connection refused\\n')\n"
        "sys.exit(1)\n"
    ),
    "unauthorized": (
        "import sys\nsys.stderr.write('[error] [rtsp @ 0x1] DESCRIBE failed: 401 Unauthorized\\n')\nsys.exit(1)\n"
    ),
    # Writes 50 kB every 0.1 s into the current segment, closes and lists one every second. The
    # segment pattern follows "-segment_list_type csv" (the camera-clock outputs come after it).
    "writer": """
import signal, sys, time
argv = sys.argv
pattern, listing = argv[argv.index("-segment_list_type") + 2], argv[argv.index("-segment_list") + 1]
state = {"i": 0, "t": 0.0, "f": None}
def close(*_):
    name = pattern.replace("%06d", f"{state['i']:06d}")
    state["f"].close()
    with open(listing, "a") as fh:
        fh.write(f"{name.rsplit('/', 1)[1]},{state['t']:.6f},{state['t'] + 1:.6f}\\n")
    state["i"] += 1
    state["t"] += 1
def stop(*_):
    close()
    sys.exit(255)
signal.signal(signal.SIGTERM, stop)
us = 0
while True:
    state["f"] = open(pattern.replace("%06d", f"{state['i']:06d}"), "wb")
    for _ in range(10):
        state["f"].write(b"\\x47" * 50_000)
        state["f"].flush()
        us += 100_000
        print(f"out_time_us={us}", flush=True)
        time.sleep(0.1)
    close()
""",
}


@pytest.fixture
def listener() -> Iterator[str]:
    """An RTSP URL whose port accepts TCP connections (and nothing more)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(50)
        yield f"rtsp://127.0.0.1:{sock.getsockname()[1]}/cam"


@pytest.fixture
def fake_ffmpeg(tmp_path: Path) -> Callable[[str], str]:
    def make(kind: str) -> str:
        path = tmp_path / f"ffmpeg-{kind}"
        path.write_text(f"#!{sys.executable}\n{FAKES[kind]}", encoding="utf-8")
        path.chmod(0o755)
        return str(path)

    return make


def settings(tmp_path: Path, ffmpeg: str, **kw: object) -> SupervisorSettings:
    base: dict[str, object] = {
        "ffmpeg": ffmpeg,
        "reconnect": Backoff(0.1, 0.2),
        "failed_retry": Backoff(0.5, 1.0),
        "poll_interval": 0.1,
        "spool_check_seconds": 0.1,
        "list_check_seconds": 0.1,
        "stop_grace": 1.0,
    }
    base.update(kw)
    return SupervisorSettings(tmp_path / "spool", **base)  # type: ignore[arg-type]


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_watchdog_ends_an_ffmpeg_without_progress(
    tmp_path: Path, listener: str, fake_ffmpeg: Callable[[str], str]
) -> None:
    spec = RecordingSpec.create("c1", listener)
    with Recorder([spec], settings(tmp_path, fake_ffmpeg("hang"), stall_seconds=1.0)) as rec:
        wait_for(lambda: rec.status().camera("c1").stalls >= 2)
        status = rec.status().camera("c1")
    assert status.restarts >= 2
    assert status.last_exit is not None and status.last_exit.startswith("stalled")
    assert rec.status().camera("c1").state is CameraState.STOPPED


def test_unreachable_camera_is_retried_with_tcp_connects_only(
    tmp_path: Path, fake_ffmpeg: Callable[[str], str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        spec = RecordingSpec.create("c1", f"rtsp://127.0.0.1:{port}/cam")
        with Recorder([spec], settings(tmp_path, fake_ffmpeg("hang"))) as rec:
            time.sleep(1.0)
            status = rec.status().camera("c1")
    assert status.state is CameraState.RECONNECTING and status.restarts == 0  # no ffmpeg was spawned
    assert status.last_exit is not None and "camera_unreachable" in status.last_exit
    assert status.not_recording_since is not None


@pytest.mark.parametrize(
    ("kind", "state"), [("refused", CameraState.RECONNECTING), ("unauthorized", CameraState.FAILED)]
)
def test_exit_reasons_drive_the_state(
    kind: str, state: CameraState, tmp_path: Path, listener: str, fake_ffmpeg: Callable[[str], str]
) -> None:
    spec = RecordingSpec.create("c1", listener)
    with Recorder([spec], settings(tmp_path, fake_ffmpeg(kind), failed_after=100)) as rec:
        wait_for(lambda: rec.status().camera("c1").restarts >= 2)
        wait_for(lambda: rec.status().camera("c1").state is state)


def test_a_full_spool_pauses_recording_without_deleting_and_resumes_when_drained(
    tmp_path: Path, listener: str, fake_ffmpeg: Callable[[str], str]
) -> None:
    spec = RecordingSpec.create("c1", listener)
    limit = 1_200_000
    conf = settings(tmp_path, fake_ffmpeg("writer"), spool_max_bytes=limit, spool_resume_fraction=0.5)
    spool = CameraSpool(conf.spool_root, "c1", max_bytes=limit)
    with Recorder([spec], conf) as rec:
        wait_for(lambda: rec.status().camera("c1").state is CameraState.SPOOL_FULL)
        time.sleep(0.5)
        held = spool.scan()
        status = rec.status().camera("c1")
        assert status.spool.full and status.spool.alarm and status.pid is None
        assert status.last_exit is not None and status.last_exit.startswith("spool_full")
        assert sum(f.size for f in held) >= limit  # nothing was deleted to make room
        assert rec.status().camera("c1").state is CameraState.SPOOL_FULL
        for f in held:  # what the ingester would do once the store confirmed them
            spool.remove_ingested(f, stored_size=f.size)
        wait_for(lambda: rec.status().camera("c1").state is not CameraState.SPOOL_FULL)
        wait_for(lambda: rec.status().camera("c1").bitrate_bps is not None)


def test_a_camera_loop_that_raises_is_logged_at_once_and_started_again(
    tmp_path: Path, listener: str, fake_ffmpeg: Callable[[str], str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from archive.recorder import worker as worker_module

    original = worker_module.CameraWorker.run
    calls = {"n": 0}

    async def run_failing_once(self: worker_module.CameraWorker, stop: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the camera loop")
        await original(self, stop)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module.CameraWorker, "run", run_failing_once)
    spec = RecordingSpec.create("c1", listener)
    with caplog.at_level("ERROR", logger="archive.recorder.supervisor"), \
            Recorder([spec], settings(tmp_path, fake_ffmpeg("writer"))) as rec:
        wait_for(lambda: rec.status().camera("c1").last_segment_at is not None, timeout=15)
    assert calls["n"] == 2
    assert any("camera c1: its recording loop failed (RuntimeError: a bug in the camera loop)" in r.getMessage()
               for r in caplog.records)
