"""The recorder's guardian: ends the recorder's ffmpeg processes gracefully when the recorder dies.

The recorder starts it (:class:`Guardian`) with a pipe on its standard input and never writes to
it. When the recorder ends, by any means (SIGKILL, a crash, the OOM killer), the kernel closes the
pipe and the guardian reads end-of-file. It then sends every ffmpeg still named by a pid file in
the spool exactly one SIGTERM, on which ffmpeg writes out its buffer, closes its segment and lists
it, so nothing it received is lost; what is still alive after :data:`GRACE_S` is SIGKILLed (the
next recorder then ingests that file as partial). After a normal stop no pid file is left and
the guardian just exits.

Why not ``PR_SET_PDEATHSIG = SIGTERM`` on ffmpeg (prctl(2)): the kernel sends the parent-death
signal to each of ffmpeg's threads that inherited the setting; ffmpeg counts every delivery, and
from the second one its interrupt callback aborts all I/O, so the open segment was left neither
closed nor listed ("Immediate exit requested", seen with strace; the recorder-SIGKILL test
failed so in two of three runs).

Run as ``python -m archive.recorder.guardian SPOOL_ROOT`` (exit status 2 for a bad command line).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from archive.errors import ToolError
from archive.recorder.process import end_orphans
from archive.recorder.spool import RunPaths

GRACE_S: Final = 10.0  # ffmpeg acts on SIGTERM within its progress period (2 s), then closes the file
_ROOT: Final = Path(__file__).resolve().parents[2]  # the directory that holds the archive package


def end_recorder_ffmpegs(spool_root: Path, grace: float = GRACE_S) -> list[int]:
    """SIGTERM every ffmpeg named by a pid file under ``spool_root`` (SIGKILL after ``grace``);
    returns their pids."""
    runs = [RunPaths(pid_file.parent, pid_file.stem) for pid_file in sorted(spool_root.glob("*/*.pid"))]
    return end_orphans(runs, grace)


class Guardian:
    """The guardian process of one recorder. :meth:`start` before the first ffmpeg, :meth:`stop`
    after the last one ended."""

    def __init__(self, spool_root: Path) -> None:
        self.spool_root = spool_root
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The guardian's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the guardian. Raises :class:`ToolError` when it cannot be started."""
        path = os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "archive.recorder.guardian", str(self.spool_root)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C is for the recorder, not for it
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError as exc:
            raise ToolError(f"cannot start the recorder's guardian: {exc}") from exc

    def stop(self, timeout: float = GRACE_S + 5.0) -> None:
        """Close the pipe (the guardian ends what ffmpeg is left, normally none) and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Wait for end-of-file on standard input, then end the spool's ffmpegs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m archive.recorder.guardian SPOOL_ROOT (an existing directory)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    end_recorder_ffmpegs(Path(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
