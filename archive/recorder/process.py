"""One ffmpeg process under asyncio: spawn, read its progress and log, stop it, say why it ended.

ffmpeg is started in its own session (a terminal's Ctrl-C does not reach it). Its pid is written
to the run's pid file, which is how the recorder's guardian (:mod:`archive.recorder.guardian`)
finds it if the recorder dies, and how a recorder that starts later finds an orphan
(:func:`end_orphans`) before it treats that run's last file as partial. No ``PR_SET_PDEATHSIG``:
the kernel sends it to every thread of ffmpeg that inherited it, ffmpeg may count two signals, and
at the second it aborts all I/O, leaving the open segment neither closed nor listed (seen with
strace: "Immediate exit requested").
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from archive.errors import ToolError
from archive.recorder.camera_clock import CameraClockTracker
from archive.recorder.sink import RecorderGapReason
from archive.recorder.spool import RunPaths
from archive.redact import scrub

_log = logging.getLogger(__name__)
_PROGRESS_READ: Final = 4096
_CLOCK_READ: Final = 65536
_OUT_TIME: Final = b"out_time_us="
#: The segment muxer's info line for each new file; it comes after the previous file was listed.
_SEGMENT_OPENED: Final = "for writing"
_STREAM_RE: Final = re.compile(r"Stream #0:(\d+)[^:]*: (Video|Audio|Data|Subtitle): (.+)$")
_REJECTED: Final = ("401 Unauthorized", "403 Forbidden", "404 Not Found", "454 Session Not Found", "Unauthorized")
_UNREACHABLE: Final = (
    "Connection refused", "Connection timed out", "No route to host", "End of file", "Network is unreachable",
    "Connection reset", "Host is unreachable", "Name or service not known", "Temporary failure in name resolution",
    "Failed reading RTSP data", "Broken pipe",
)  # fmt: skip


def classify_exit(returncode: int | None, log: Sequence[str]) -> tuple[RecorderGapReason, str]:
    """Why an ffmpeg run ended on its own, from its exit status and its last log lines (pure).

    The detail is scrubbed of credentials (:func:`archive.redact.scrub`) even if the lines were not."""
    errors = (
        [line for line in log if "[error]" in line or "[fatal]" in line]
        or [line for line in log if "[warning]" in line]
        or list(log)
    )
    last = errors[-1] if errors else ""

    def detail(line: str) -> str:
        return scrub(f"exit status {returncode}" + (f": {line}" if line else ""))

    # the detail is the line that shows the reason (a later unrelated error line must not stand for it)
    known = ((RecorderGapReason.CAMERA_REJECTED, _REJECTED), (RecorderGapReason.CAMERA_UNREACHABLE, _UNREACHABLE))
    for reason, markers in known:
        shown = [line for line in log if any(m in line for m in markers)]
        if shown:
            return reason, detail(shown[-1])
    return RecorderGapReason.FFMPEG_EXIT, detail(last)


def _ffmpeg_of(run: RunPaths) -> int | None:
    """The pid in the run's pid file if that process is alive and records this run, else None."""
    try:
        pid = int(run.pid_file.read_text(encoding="ascii").strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(run.segment_pattern).encode() in cmdline else None


def end_orphans(runs: Sequence[RunPaths], timeout: float = 5.0) -> list[int]:
    """End the ffmpeg processes left running for ``runs``; returns the pids signalled.

    Only a process whose command line names its run's segment pattern is signalled: one SIGTERM
    each, all at once (ffmpeg then closes and lists its segment), and SIGKILL for any still alive
    after ``timeout``. The runs' pid files are removed afterwards.
    """
    found = [pid for pid in map(_ffmpeg_of, runs) if pid is not None]
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in found) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in found:
        if Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for run in runs:
        run.pid_file.unlink(missing_ok=True)
    return found


class ClockPipes:
    """The two pipes of the camera-clock outputs (:mod:`archive.recorder.camera_clock`): ffmpeg
    writes its key frames' ``framecrc`` lines into the first, their fragmented MP4 into the second.
    Raises OSError (on construction) when no pipe can be made."""

    def __init__(self) -> None:
        self._crc_r, self._crc_w = os.pipe()
        try:
            self._mp4_r, self._mp4_w = os.pipe()
        except OSError:
            os.close(self._crc_r)
            os.close(self._crc_w)
            raise
        self._open = {self._crc_r, self._crc_w, self._mp4_r, self._mp4_w}

    @property
    def write_fds(self) -> tuple[int, int]:
        """The ends ffmpeg writes (``pipe:N`` in its argv; passed to it with the same numbers)."""
        return self._crc_w, self._mp4_w

    def take_readers(self) -> tuple[int, int]:
        """After ffmpeg started: close our copies of its ends and hand over the read ends."""
        for fd in (self._crc_w, self._mp4_w):
            self._close(fd)
        self._open.clear()
        return self._crc_r, self._mp4_r

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        """Close every end not handed over (ffmpeg did not start)."""
        for fd in list(self._open):
            self._close(fd)


async def _drain(fd: int, feed: Callable[[bytes], None], camera: str) -> None:
    """Read a pipe to its end, handing each chunk to ``feed``; a ``feed`` that raises is logged once
    and the pipe is still drained (ffmpeg must never block on it)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CLOCK_READ)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                os.fdopen(fd, "rb", buffering=0))  # fmt: skip
    failed = False
    try:
        while chunk := await reader.read(_CLOCK_READ):
            if failed:
                continue
            try:
                feed(chunk)
            except Exception:
                failed = True
                _log.exception("camera %s: reading its camera-clock output failed; the rest is drained unread", camera)
    finally:
        transport.close()


class FfmpegRun:
    """One ffmpeg process recording one run. Use from a single event loop.

    ``clock``/``tracker``: the camera-clock pipes its argv writes into and the tracker that reads
    them (:mod:`archive.recorder.camera_clock`), or neither."""

    def __init__(
        self, argv: Sequence[str], run: RunPaths, *, log_lines: int = 60, secrets: Sequence[str] = (),
        clock: ClockPipes | None = None, tracker: CameraClockTracker | None = None,
    ) -> None:  # fmt: skip
        self.argv = list(argv)
        self.clock, self.tracker = clock, tracker
        self._secrets = tuple(secrets)  # scrubbed from each log line as it is read
        self.run = run
        self.log: collections.deque[str] = collections.deque(maxlen=log_lines)
        self.input_streams: list[str] = []
        self.started_at = 0.0
        self.last_progress_at: float | None = None  # monotonic time out_time last advanced
        self.out_time_us = 0
        self.output_opened = False  # ffmpeg opened its first output file (it has the camera's streams)
        self.activity = asyncio.Event()  # set on the first media progress and on every new output file
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._in_header = True

    @property
    def pid(self) -> int | None:
        """The process id once started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit status once ended."""
        return self._proc.returncode if self._proc is not None else None

    async def start(self) -> None:
        """Spawn ffmpeg and write the pid file. Raises :class:`ToolError` when it cannot start."""
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
                pass_fds=self.clock.write_fds if self.clock is not None else (),
            )
        except OSError as exc:
            if self.clock is not None:
                self.clock.close()
            raise ToolError(f"cannot start {self.argv[0]}: {exc}") from exc
        clock_readers: list[asyncio.Task[None]] = []
        if self.clock is not None:
            crc_fd, mp4_fd = self.clock.take_readers()
            if self.tracker is not None:
                camera = self.tracker.camera_id
                clock_readers = [asyncio.create_task(_drain(crc_fd, self.tracker.framecrc, camera)),
                                 asyncio.create_task(_drain(mp4_fd, self.tracker.mp4, camera))]  # fmt: skip
            else:
                clock_readers = [asyncio.create_task(_drain(fd, lambda _: None, "?")) for fd in (crc_fd, mp4_fd)]
        self.started_at = time.monotonic()
        try:
            self.run.pid_file.write_text(f"{self._proc.pid}\n", encoding="ascii")
        except OSError as exc:
            self.kill()
            raise ToolError(f"cannot write {self.run.pid_file}: {exc}") from exc
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read_progress(self._proc.stdout)),
            asyncio.create_task(self._read_log(self._proc.stderr)),
            *clock_readers,
        ]

    async def _read_progress(self, stream: asyncio.StreamReader) -> None:
        # One read per progress block (ffmpeg writes a block of ~12 ``key=value`` lines at once),
        # and only its last ``out_time_us`` is parsed: a line-by-line reader cost ~12 event-loop
        # wake-ups per camera per second.
        pending = b""
        while chunk := await stream.read(_PROGRESS_READ):
            data = pending + chunk
            cut = data.rfind(b"\n") + 1
            block, pending = data[:cut], data[cut:][-_PROGRESS_READ:]
            at = block.rfind(_OUT_TIME)
            if at < 0:
                continue
            value = block[at + len(_OUT_TIME) :].split(b"\n", 1)[0].strip()
            if value.isdigit() and int(value) > self.out_time_us:
                if self.last_progress_at is None:
                    self.activity.set()
                self.out_time_us = int(value)
                self.last_progress_at = time.monotonic()

    async def _read_log(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            # ffmpeg prints the input URL, password included, in errors ("rtsp://u:PASS@h/x:
            # Connection timed out", Debian's 5.1): scrubbed before the line is kept anywhere.
            text = scrub(line.decode("utf-8", "replace").rstrip(), self._secrets)
            if not text:
                continue
            self.log.append(text)
            if _SEGMENT_OPENED in text:  # the segment before it was closed and listed just before
                self.output_opened = True
                self.activity.set()
            if self._in_header:
                if "Output #0" in text:
                    self._in_header = False
                match = _STREAM_RE.search(text)
                if match and len(self.input_streams) < 8:
                    self.input_streams.append(f"{match[2].lower()}: {match[3].strip()}")

    async def wait(self) -> int:
        """Wait for the exit (and the end of its output). Returns the exit status."""
        assert self._proc is not None
        code = await self._proc.wait()
        if self._readers:
            await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    def exited(self) -> bool:
        """True once the process has ended."""
        return self._proc is not None and self._proc.returncode is not None

    async def stop(self, grace: float) -> bool:
        """SIGTERM (ffmpeg closes and lists its segment), SIGKILL after ``grace`` seconds.

        Returns True when it ended by itself within the grace period.
        """
        if self._proc is None or self._proc.returncode is not None:
            return True
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._proc.wait(), grace)
            return True
        except TimeoutError:
            self.kill()
            await self._proc.wait()
            return False

    def kill(self) -> None:
        """SIGKILL now (the current segment stays partial)."""
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    def forget_pid_file(self) -> None:
        """Remove the pid file after the process ended."""
        self.run.pid_file.unlink(missing_ok=True)
