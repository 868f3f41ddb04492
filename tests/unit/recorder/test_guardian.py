"""The recorder's guardian: one SIGTERM to each ffmpeg of a recorder that died, nothing to others."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.recorder.guardian import main
from archive.recorder.spool import RunPaths

ROOT = Path(__file__).resolve().parents[3]

# Stands in for ffmpeg: its argv names the run's segment pattern; it counts the SIGTERMs it gets
# into a file and exits 0.5 s after the first (as ffmpeg closes its segment).
FAKE_FFMPEG = textwrap.dedent(
    """
    import signal, sys, time
    count = [0]
    def term(*_):
        count[0] += 1
        open(sys.argv[2], "w").write(str(count[0]))
    signal.signal(signal.SIGTERM, term)
    print("READY", flush=True)
    while not count[0]:
        time.sleep(0.02)
    time.sleep(0.5)
    """
)

# Stands in for the recorder: starts a guardian, says its pid, then waits to be killed.
RECORDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from archive.recorder.guardian import Guardian
    guardian = Guardian(Path(sys.argv[1]))
    guardian.start()
    print(guardian.pid, flush=True)
    time.sleep(3600)
    """
)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def start_fake(run: RunPaths, marker: Path, pattern: Path, procs: list[subprocess.Popen[str]]) -> int:
    proc = subprocess.Popen([sys.executable, "-c", FAKE_FFMPEG, str(pattern), str(marker)], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    procs.append(proc)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    run.pid_file.write_text(f"{proc.pid}\n", encoding="ascii")
    return proc.pid


def test_a_killed_recorder_guardian_sends_each_of_its_ffmpegs_exactly_one_sigterm(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "spool"
    ours = RunPaths(root / "cam-1", "20260101T000000000Z")
    other = RunPaths(root / "cam-2", "20260101T000000001Z")
    for run in (ours, other):
        run.directory.mkdir(parents=True)
    ffmpeg = start_fake(ours, tmp_path / "ours.count", ours.segment_pattern, procs)
    # a pid file naming a process that does not record that run (a reused pid): never signalled
    stranger = start_fake(other, tmp_path / "other.count", tmp_path / "elsewhere-%06d.ts", procs)
    recorder = subprocess.Popen([sys.executable, "-c", RECORDER, str(root)], stdout=subprocess.PIPE, text=True,
                                cwd=ROOT)  # fmt: skip
    procs.append(recorder)
    assert recorder.stdout is not None
    guardian = int(recorder.stdout.readline())
    time.sleep(0.3)
    assert (alive(ffmpeg), alive(guardian)) == (True, True)

    recorder.send_signal(signal.SIGKILL)
    recorder.wait()
    wait_for(lambda: not alive(ffmpeg))
    wait_for(lambda: not alive(guardian))
    assert (tmp_path / "ours.count").read_text() == "1"
    assert not ours.pid_file.exists()
    assert alive(stranger) and not (tmp_path / "other.count").exists()


def test_the_guardian_command_line_needs_one_existing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == 2
    assert main([str(tmp_path / "missing")]) == 2
    assert "usage: python -m archive.recorder.guardian SPOOL_ROOT" in capsys.readouterr().err
