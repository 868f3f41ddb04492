"""Bulk mode: many simulated cameras served by one RTSP server process, for capacity benchmarks.

:class:`BulkCameraSet` serves ``rtsp://127.0.0.1:PORT/cam1`` .. ``camN`` on one port, every mount
a real RTSP stream of the cached clip of a relay profile (default ``h264``: 1280x720, 25 fps,
GOP 2 s, no B-frames, 2 Mbit/s), looped live; cameras' keyframes fall at different instants. The
simulator must cost far less than what it feeds, so there are two servers:

- ``server="lite"`` (default): ``lite_rtsp_server.py``, a single-threaded standard-library RTSP
  server run by this Python. The clip is packetized once; each frame goes to each client in one
  ``send`` with only its RTP header fields patched. RTSP over TCP (interleaved) only; H.264 only.
- ``server="gst"``: ``gst_bulk_server.py``, one GStreamer RTSP server (system Python) with N
  mounts, fed by one ``ffmpeg -re -stream_loop -1 -c copy -f tee`` per ``per_feeder`` mounts.

The cameras are one process, so they cannot go down one at a time: outage tests (stop, start,
freeze one camera) use :class:`~archive.sim.cameras.SimulatedCameraSet`, one process per camera.

Measured on the 2-core machine (ffmpeg 9.0.2, GStreamer 1.22; other people's tests were running:
1-hour load average 5-16), with one ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment
-segment_time 10`` client per mount, 60 s after 15 s of warm-up; simulator CPU in CPU-s per
camera-minute (and the whole simulator in cores):

=====  =====================  ======================================  ================
N      lite                   gst: server + feeders = total           client (ffmpeg)
=====  =====================  ======================================  ================
8      0.144 (0.019 cores)    0.607 + 0.085 = 0.692 (0.092 cores)     0.32-0.41
32     0.072 (0.039 cores)    0.506 + 0.074 = 0.580 (0.309 cores)     0.32-0.36
100    0.051 (0.084 cores)    0.495 + 0.069 = 0.563 (0.938 cores)     0.29-0.34
=====  =====================  ======================================  ================

So at 100 cameras the GStreamer server alone takes half of this machine, more than the 100
clients it feeds; the lite server takes 4 % of it. (The per-camera mode costs about 0.78 CPU-s
per camera-minute in the same setting.) Tried for the GStreamer server and dropped, N=8..32:
one ffmpeg feeder per mount (feeders about 4x the CPU of tee feeders sending large packets);
1200-byte RTP passed straight through (``udpsrc name=pay0``: about 2x the server CPU); no
``rtpjitterbuffer`` (-20 % server CPU, but outgoing timestamps then follow arrival times and a
joining client got a burst of frames with equal timestamps); a different thread pool, TCP-only
media and ``retrieve-sender-address=false`` (no measurable difference).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from archive.errors import ToolError, UserError
from archive.sim.cameras import (
    DEFAULT_HOST,
    MAX_PORT,
    SERVER_EXIT_NO_LISTEN,
    SYSTEM_PYTHON,
    ClipCache,
    Profile,
    RtspError,
    _read_line,
    _tail,
    check_gstreamer,
    profile_named,
    rtsp_describe,
)
from archive.sim.procgroup import ProcessGroupOwner

BULK_SERVER_SCRIPTS: Final = {
    "lite": Path(__file__).with_name("lite_rtsp_server.py"),
    "gst": Path(__file__).with_name("gst_bulk_server.py"),
}
DEFAULT_PER_FEEDER: Final = 10

_LIVE_SETS: weakref.WeakSet[BulkCameraSet] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for cameras in list(_LIVE_SETS):
        with contextlib.suppress(Exception):
            cameras.stop(timeout=2.0)


def bulk_profile(name: str) -> Profile:
    """The profile ``name`` if bulk mode can serve it (relay, video only, no B-frames)."""
    profile = profile_named(name)
    if profile.mode != "relay" or profile.audio or profile.bframes:
        raise UserError(
            f"Bulk mode serves relay profiles without audio or B-frames (h264, h265, resolution-change), not {name}."
        )
    return profile


class BulkCameraSet(ProcessGroupOwner):
    """``n`` cameras ``cam1`` .. ``camN`` on one port of one RTSP server process.

    Same shape as :class:`~archive.sim.cameras.SimulatedCameraSet`: :meth:`start`, :attr:`urls`,
    :meth:`stop`, :meth:`close`, context manager. ``port`` fixes the RTSP port (default: the
    kernel picks one, kept across restarts). ``per_feeder`` is the number of mounts each ffmpeg
    feeder serves. ``burst_s`` (lite server only): each mount that starts playing first sends
    that many seconds of past video ``burst_speed`` times faster than real time, as a caching
    relay or NVR does. Raises :class:`UserError` for impossible settings.
    """

    def __init__(
        self,
        n: int,
        profile: str = "h264",
        *,
        port: int | None = None,
        host: str = DEFAULT_HOST,
        per_feeder: int = DEFAULT_PER_FEEDER,
        server: str = "lite",
        cache: ClipCache | None = None,
        workdir: Path | None = None,
        python: str = SYSTEM_PYTHON,
        burst_s: float = 0.0,
        burst_speed: float = 10.0,
    ) -> None:
        if n < 1:
            raise UserError(f"The number of simulated cameras must be at least 1, not {n}.")
        if per_feeder < 1:
            raise UserError(f"Each feeder must feed at least one camera, not {per_feeder}.")
        if port is not None and not 1 <= port <= MAX_PORT:
            raise UserError(f"Port {port} is not a valid TCP port.")
        if server not in BULK_SERVER_SCRIPTS:
            raise UserError(f"Unknown bulk server {server!r}; known: {', '.join(BULK_SERVER_SCRIPTS)}.")
        if burst_s and server != "lite":
            raise UserError("Only the lite bulk server sends a burst at connect (burst_s).")
        self.server = server
        self.burst_s, self.burst_speed = burst_s, burst_speed
        self.profile = bulk_profile(profile)
        if server == "lite" and self.profile.codec != "h264":
            raise UserError("The lite bulk server relays H.264 profiles only; use server='gst' for h265.")
        self.n = n
        self.host = host
        self.per_feeder = per_feeder
        self.cache = cache
        self.python = python
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="archive-sim-bulk-"))
        self._requested_port = port
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.feeder_pids: list[int] = []

    @property
    def port(self) -> int:
        if self._port is None:
            raise ToolError("The bulk camera set has not been started yet, so it has no port.")
        return self._port

    @property
    def names(self) -> list[str]:
        return [f"cam{i}" for i in range(1, self.n + 1)]

    @property
    def urls(self) -> list[str]:
        return [f"rtsp://{self.host}:{self.port}/{name}" for name in self.names]

    @property
    def log_path(self) -> Path:
        """The server's (and feeders') stderr, appended across restarts."""
        return self.workdir / "bulk-server.log"

    @property
    def pid(self) -> int | None:
        """The server's process id; the feeders are its children (same process group)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _spec(self) -> dict[str, Any]:
        if self.cache is None:
            self.cache = ClipCache()
        clip = self.cache.clip_for(self.profile)
        return {
            "host": self.host, "ffmpeg": self.cache.ffmpeg, "codec": self.profile.codec, "clip": str(clip.path),
            "video_rtp": clip.video_rtp, "count": self.n, "per_feeder": self.per_feeder,
            "stagger_s": self.profile.gop / self.profile.fps, "fps": self.profile.fps,
            "burst_s": self.burst_s, "burst_speed": self.burst_speed,
        }  # fmt: skip

    def start(self, timeout: float | None = None) -> Self:
        """Start serving (no-op if running) and return once every mount answers DESCRIBE."""
        if self.is_running:
            return self
        if self.server == "gst":
            check_gstreamer(self.python)
        deadline = time.monotonic() + (timeout if timeout is not None else 30.0 + 0.2 * self.n)
        self.workdir.mkdir(parents=True, exist_ok=True)
        spec_path = self.workdir / "bulk-spec.json"
        spec_path.write_text(json.dumps(self._spec()), encoding="utf-8")
        port = self._port if self._port is not None else (self._requested_port or 0)
        python = self.python if self.server == "gst" else sys.executable
        argv = [
            python,
            str(BULK_SERVER_SCRIPTS[self.server]),
            "--port",
            str(port),
            "--spec",
            f"@{spec_path}",
            "--watch-stdin",
        ]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True, close_fds=True
            )
        _LIVE_SETS.add(self)
        try:
            self._await_ready(deadline)
        except BaseException:
            self._kill()
            raise
        return self

    def _await_ready(self, deadline: float) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        line = _read_line(proc.stdout, deadline)
        if not line.startswith("READY "):
            self._kill()
            code = proc.poll()
            if code == SERVER_EXIT_NO_LISTEN:
                raise ToolError(
                    f"The bulk RTSP server could not listen on {self.host}:{self._requested_port}: the port is "
                    f"in use. {_tail(self.log_path, 300)}"
                )
            raise ToolError(f"The bulk RTSP server did not start (status {code}): {_tail(self.log_path)}")
        ready = json.loads(line[len("READY ") :])
        self._port = int(ready["port"])
        self.feeder_pids = [int(pid) for pid in ready["feeders"]]
        for url in self.urls:
            while True:
                if proc.poll() is not None:
                    raise ToolError(f"The bulk RTSP server died while starting: {_tail(self.log_path)}")
                try:
                    rtsp_describe(url, timeout=max(0.5, min(5.0, deadline - time.monotonic())))
                    break
                except RtspError as exc:
                    if time.monotonic() >= deadline:
                        raise ToolError(f"{url} did not answer DESCRIBE in time ({exc}).") from exc
                    time.sleep(0.1)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server and its feeders: connections drop. The set can be started again."""
        self._stop_group(timeout)

    def _forget(self) -> None:
        self.feeder_pids = []
        _LIVE_SETS.discard(self)

    def close(self) -> None:
        """Stop, and remove the work directory (log, spec) if the set made it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n
