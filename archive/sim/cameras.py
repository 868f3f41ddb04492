"""Simulated IP cameras that serve real RTSP on loopback, for tests, benchmarks and demos.

Each :class:`SimCamera` is its own GStreamer RTSP server process (``gst_rtsp_server.py`` beside this
file, run by the *system* Python because ``gi`` only imports there) with one mount,
``rtsp://127.0.0.1:PORT/camN``. One process per camera makes an outage realistic:
:meth:`SimCamera.stop` kills it, so open RTSP connections drop and new ones are refused, exactly
like a camera losing power; :meth:`SimCamera.start` brings it back on the same URL.
:meth:`SimCamera.freeze` instead stops the server without closing anything (a network black hole:
connections stay open and nothing arrives), :meth:`SimCamera.thaw` lets it go on.

Profiles (:data:`PROFILES`): most are *relay* cameras, which loop a 10 s clip encoded once by
ffmpeg into a cache directory (:class:`ClipCache`) and relay it with ``-c copy``. ``h264-live``
encodes a test pattern with the running time and the wall clock burnt in, in real time.
Cameras are always on (they stream whether or not anyone watches) and a client joins the stream
wherever it is, so the first decodable frame comes with the next keyframe (GOP 2 s), as with
most real cameras.

Measured on the 2-core test machine, per camera with one ffmpeg client pulling it: relay about
1.3 % of a core (0.8 % the RTSP server, 0.4 % the ffmpeg feeder; 0.75 % with no client) and
about 30 MB (PSS); live about 15 % of a core. Starting 8 cameras takes about 0.6 s, 32 about
2.5 s, once the clips are cached (encoding one takes 1-3 s, once per machine).

Everything is torn down at interpreter exit, and each server also stops by itself when the
process that started it dies (it watches a pipe), so no camera outlives a crashed test run.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal, Self, TextIO

from archive.errors import ToolError, UserError
from archive.sim.procgroup import ProcessGroupOwner

SYSTEM_PYTHON: Final = "/usr/bin/python3"
SERVER_SCRIPT: Final = Path(__file__).with_name("gst_rtsp_server.py")
INSTALL_HINT: Final = "run ops/install-debian-packages.sh as root to install them"
DEFAULT_HOST: Final = "127.0.0.1"
CLIP_SECONDS: Final = 10
SERVER_EXIT_NO_LISTEN: Final = 4  # gst_rtsp_server.py's status when it cannot bind its port
MAX_PORT: Final = 65535

RtpFields = dict[str, str | int]


@dataclass(frozen=True)
class Profile:
    """What one simulated camera sends.

    ``mode`` is ``relay`` (a pre-encoded clip looped with ``-c copy``) or ``live`` (encoded in real
    time). ``sizes`` lists the picture sizes in stream order: more than one means the resolution
    changes mid-stream (at a keyframe, every ``CLIP_SECONDS / len(sizes)`` seconds). ``bframes`` is
    honoured by relay profiles only: live cameras never send B-frames (see gst_rtsp_server.py).
    """

    name: str
    description: str
    mode: Literal["relay", "live"]
    codec: Literal["h264", "h265"]
    sizes: tuple[tuple[int, int], ...] = ((1280, 720),)
    fps: int = 25
    gop: int = 50
    bitrate_kbps: int = 2000
    bframes: int = 0
    audio: bool = False

    @property
    def width(self) -> int:
        return self.sizes[-1][0]

    @property
    def height(self) -> int:
        return self.sizes[-1][1]

    @property
    def ffprobe_codec(self) -> str:
        """The ``codec_name`` ffprobe reports for the video stream."""
        return {"h264": "h264", "h265": "hevc"}[self.codec]


PROFILES: Final[Mapping[str, Profile]] = {
    p.name: p
    for p in (
        Profile("h264", "H.264 main, 1280x720, 25 fps, GOP 50, no B-frames, 2 Mbit/s", "relay", "h264"),
        Profile("h264-bframes", "as h264 but with 2 B-frames between references", "relay", "h264", bframes=2),
        Profile("h265", "H.265 main, 1280x720, 25 fps, GOP 50, no B-frames, 2 Mbit/s", "relay", "h265"),
        Profile("h264-audio", "as h264 plus AAC-LC mono 48 kHz 64 kbit/s audio", "relay", "h264", audio=True),
        Profile(
            "resolution-change",
            "H.264 that switches between 640x360 and 1280x720 every 5 s (at a keyframe)",
            "relay",
            "h264",
            sizes=((640, 360), (1280, 720)),
        ),
        Profile(
            "h264-live",
            "H.264 encoded in real time (x264, zerolatency) with running time and wall clock burnt in",
            "live",
            "h264",
        ),
    )
}


def profile_named(name: str) -> Profile:
    """The profile called ``name``; :class:`UserError` naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise UserError(f"Unknown camera profile {name!r}; known profiles: {known}.") from None


# --------------------------------------------------------------------------------------------
# external tools


def find_ffmpeg() -> str:
    """Path of the ffmpeg binary: imageio-ffmpeg's bundled one, else ``ffmpeg`` on PATH."""
    try:
        import imageio_ffmpeg

        path = str(imageio_ffmpeg.get_ffmpeg_exe())
        if Path(path).is_file():
            return path
    except (ImportError, RuntimeError):
        pass
    found = shutil.which("ffmpeg")
    if found is None:
        raise ToolError(
            f"ffmpeg was not found: install the imageio-ffmpeg package or Debian's ffmpeg ({INSTALL_HINT})."
        )
    return found


_GST_CHECK = r"""
import sys
try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import Gst, GstRtspServer
except Exception as exc:
    print("NOGI %s" % exc)
    sys.exit(0)
Gst.init(None)
missing = [n for n in sys.argv[1:] if Gst.ElementFactory.find(n) is None]
print("MISSING " + " ".join(missing) if missing else "OK")
"""

_GST_ELEMENTS: Final = (
    "udpsrc", "rtpjitterbuffer", "rtph264depay", "rtph264pay", "h264parse", "rtph265depay", "rtph265pay",
    "h265parse", "rtpmp4gdepay", "rtpmp4gpay", "aacparse", "videotestsrc", "timeoverlay", "clockoverlay",
    "videoconvert", "x264enc", "audiotestsrc", "audioconvert", "voaacenc",
)  # fmt: skip


@functools.cache
def check_gstreamer(python: str = SYSTEM_PYTHON) -> None:
    """Raise :class:`ToolError` unless ``python`` can run the GStreamer RTSP server script."""
    if not Path(python).is_file():
        raise ToolError(
            f"{python} does not exist: the simulated cameras need the system Python with "
            f"GStreamer's RTSP server bindings; {INSTALL_HINT}."
        )
    try:
        result = subprocess.run(
            [python, "-c", _GST_CHECK, *_GST_ELEMENTS], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"Could not run {python} to check for GStreamer: {exc}.") from exc
    out = result.stdout.strip()
    if out.startswith("NOGI"):
        raise ToolError(
            f"{python} cannot import GStreamer's RTSP server bindings (python3-gi, "
            f"gir1.2-gst-rtsp-server-1.0): {out[5:]}; {INSTALL_HINT}."
        )
    if out.startswith("MISSING"):
        raise ToolError(f"GStreamer elements are missing ({out[8:]}); {INSTALL_HINT}.")
    if out != "OK":
        raise ToolError(f"Checking GStreamer with {python} failed: {result.stderr.strip()[-500:]}")


# --------------------------------------------------------------------------------------------
# the clip cache


@dataclass(frozen=True)
class Clip:
    """A looped clip and the RTP caps its feeder sends (from ffmpeg's SDP)."""

    path: Path
    video_rtp: RtpFields
    audio_rtp: RtpFields | None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archive" / "sim-clips"


_SUFFIX: Final = {"mpegts": ".ts", "matroska": ".mkv"}


def _container(profile: Profile) -> str:
    """MPEG-TS keeps SPS/PPS in band (needed when the resolution changes); Matroska gives AAC the
    global header ffmpeg's RTP muxer needs."""
    return "matroska" if profile.audio else "mpegts"


def _encode_commands(ffmpeg: str, profile: Profile, out: Path, work: Path) -> list[list[str]]:
    """The ffmpeg runs that make ``out`` (an MPEG-TS clip of CLIP_SECONDS) for ``profile``."""
    seconds = CLIP_SECONDS / len(profile.sizes)
    kbps = profile.bitrate_kbps
    if profile.codec == "h264":
        x264 = f"keyint={profile.gop}:min-keyint={profile.gop}:scenecut=0:bframes={profile.bframes}:b-adapt=0"
        vcodec = [
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-x264-params", x264,
        ]  # fmt: skip
    else:
        x265 = (
            f"keyint={profile.gop}:min-keyint={profile.gop}:scenecut=0:bframes={profile.bframes}"
            ":log-level=error:repeat-headers=1"
        )
        vcodec = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", x265, "-tag:v", "hvc1"]
    rate = ["-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]
    commands: list[list[str]] = []
    parts: list[Path] = []
    for index, (width, height) in enumerate(profile.sizes):
        part = out if len(profile.sizes) == 1 else work / f"part{index}.ts"
        cmd = [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={profile.fps}",
        ]  # fmt: skip
        if profile.audio:
            cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        cmd += ["-t", f"{seconds:g}", "-map", "0:v", *vcodec, *rate, "-pix_fmt", "yuv420p"]
        if profile.audio:
            cmd += ["-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-ac", "1"]
        cmd += ["-f", _container(profile), str(part)]
        commands.append(cmd)
        parts.append(part)
    if len(parts) > 1:
        listing = work / "parts.txt"  # written by ClipCache._encode: this function only plans
        commands.append([
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-f", "mpegts", str(out),
        ])  # fmt: skip
    return commands


def _sdp_to_rtp_fields(sdp: str) -> dict[str, RtpFields]:
    """``{"video": {...}, "audio": {...}}`` caps fields from an SDP written by ffmpeg's rtp muxer."""
    result: dict[str, RtpFields] = {}
    media: str | None = None
    for line in sdp.splitlines():
        line = line.strip()
        if line.startswith("m="):
            kind, _port, _proto, payload = line[2:].split()[:4]
            media = kind
            result[media] = {"payload": int(payload)}
        elif media and line.startswith("a=rtpmap:"):
            encoding = line.split(None, 1)[1].split("/")
            result[media]["encoding-name"] = encoding[0].upper()
            result[media]["clock-rate"] = int(encoding[1])
            if len(encoding) > 2:
                result[media]["encoding-params"] = encoding[2]
        elif media and line.startswith("a=fmtp:"):
            for item in line.split(None, 1)[1].split(";"):
                key, sep, value = item.strip().partition("=")
                if sep:
                    result[media][key.strip().lower()] = value.strip()
    return result


class ClipCache:
    """Clips encoded once per profile (and ffmpeg binary) into ``directory``; safe across processes."""

    def __init__(self, directory: Path | None = None, ffmpeg: str | None = None) -> None:
        self.directory = directory or default_cache_dir()
        self.ffmpeg = ffmpeg or find_ffmpeg()
        self._lock = threading.Lock()

    def _key(self, profile: Profile) -> str:
        recipe = _encode_commands("ffmpeg", profile, Path("out.ts"), Path("work"))
        stat = Path(self.ffmpeg).stat()
        material = json.dumps([recipe, Path(self.ffmpeg).name, stat.st_size, CLIP_SECONDS, 2])
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def clip_for(self, profile: Profile | str) -> Clip:
        """The clip of a relay profile, encoding it first if it is not cached yet."""
        if isinstance(profile, str):
            profile = profile_named(profile)
        if profile.mode != "relay":
            raise ValueError(f"profile {profile.name} is live and has no clip")
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"{profile.name}-{self._key(profile)}"
        clip_path = self.directory / f"{stem}{_SUFFIX[_container(profile)]}"
        meta_path = self.directory / f"{stem}.json"
        with self._lock, (self.directory / ".lock").open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            if not (clip_path.is_file() and meta_path.is_file()):
                self._encode(profile, clip_path, meta_path)
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return Clip(clip_path, meta["video"], meta.get("audio"))

    def _encode(self, profile: Profile, clip_path: Path, meta_path: Path) -> None:
        with tempfile.TemporaryDirectory(dir=self.directory, prefix=".encode-") as tmp:
            work = Path(tmp)
            out = work / f"clip{_SUFFIX[_container(profile)]}"
            parts = [work / f"part{i}.ts" for i in range(len(profile.sizes))]
            (work / "parts.txt").write_text("".join(f"file '{p}'\n" for p in parts), encoding="utf-8")
            for cmd in _encode_commands(self.ffmpeg, profile, out, work):
                self._run(cmd, f"encoding the {profile.name} clip")
            sdp_path = work / "clip.sdp"
            sdp_cmd = [
                self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-t", "0.2", "-i", str(out), "-map", "0:v:0", "-c", "copy", "-f", "rtp", "rtp://127.0.0.1:9",
            ]  # fmt: skip
            if profile.audio:
                sdp_cmd += ["-map", "0:a:0", "-c", "copy", "-f", "rtp", "rtp://127.0.0.1:9"]
            sdp_cmd += ["-sdp_file", str(sdp_path)]
            self._run(sdp_cmd, f"describing the {profile.name} clip")
            fields = _sdp_to_rtp_fields(sdp_path.read_text(encoding="utf-8"))
            if "video" not in fields or (profile.audio and "audio" not in fields):
                raise ToolError(f"ffmpeg wrote an SDP without the expected streams for {profile.name}.")
            out.replace(clip_path)
            meta_tmp = work / "meta.json"
            meta_tmp.write_text(json.dumps(fields, sort_keys=True), encoding="utf-8")
            meta_tmp.replace(meta_path)

    @staticmethod
    def _run(cmd: list[str], what: str) -> None:
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError(f"ffmpeg failed while {what}: {exc}.") from exc
        if result.returncode != 0:
            raise ToolError(f"ffmpeg failed while {what} (status {result.returncode}): {result.stderr[-800:]}")


# --------------------------------------------------------------------------------------------
# RTSP probing


class RtspError(ToolError):
    """An RTSP request failed (connection refused or dropped, timeout, or a non-200 answer)."""


def rtsp_describe(url: str, timeout: float = 5.0) -> str:
    """Send one RTSP DESCRIBE for ``url`` and return the SDP; :class:`RtspError` otherwise."""
    match = re.fullmatch(r"rtsp://([^/:]+)(?::(\d+))?(/.*)?", url)
    if match is None:
        raise ValueError(f"not an rtsp:// URL: {url}")
    host, port = match.group(1), int(match.group(2) or 554)
    request = f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\nUser-Agent: archive-sim\r\n\r\n"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(request.encode("ascii"))
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    raise RtspError(f"{url} closed the connection before answering DESCRIBE.")
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            need = int(length.group(1)) if length else 0
            while len(body) < need:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                body += chunk
    except OSError as exc:
        raise RtspError(f"DESCRIBE {url} failed: {exc}.") from exc
    if not status_line.startswith("RTSP/1.0 200"):
        raise RtspError(f"DESCRIBE {url} answered {status_line!r}.")
    return body.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# cameras

_LIVE_CAMERAS: weakref.WeakSet[SimCamera] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for camera in list(_LIVE_CAMERAS):
        with contextlib.suppress(Exception):
            camera.stop(timeout=2.0)


FAKETIME_LIBS: Final = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                         "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")


def faketime_env(offset_s: float) -> dict[str, str]:
    """The environment that runs a camera server with its wall clock ``offset_s`` seconds off
    (libfaketime, Debian package ``faketime``), so its RTCP sender reports carry that clock; the
    monotonic clock (GLib's timers) stays real. Preloaded into the server itself (not the
    ``faketime`` wrapper), so the camera's pid stays the server's (freeze, stop). Raises
    :class:`ToolError` when libfaketime is not installed."""
    lib = next((path for path in FAKETIME_LIBS if Path(path).is_file()), None)
    if lib is None:
        raise ToolError("libfaketime was not found; run ops/install-debian-packages.sh as root to install faketime.")
    return {**os.environ, "LD_PRELOAD": lib, "FAKETIME": f"{offset_s:+.6f}", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:].strip()
    except OSError:
        return ""


@dataclass(eq=False)
class SimCamera(ProcessGroupOwner):
    """One simulated camera: its own RTSP server process serving ``rtsp://HOST:PORT/camN``.

    Build cameras with :class:`SimulatedCameraSet`. ``port`` is fixed after the first start,
    so a restarted camera answers on the same URL.
    """

    index: int
    profile: Profile
    workdir: Path
    clip: Clip | None = None
    host: str = DEFAULT_HOST
    requested_port: int | None = None
    ffmpeg: str = field(default_factory=find_ffmpeg)
    python: str = SYSTEM_PYTHON
    #: seconds the camera's own clock is off (its RTCP sender reports' NTP time); run under faketime
    clock_offset_s: float = 0.0
    _port: int | None = field(default=None, init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _frozen: bool = field(default=False, init=False)
    starts: int = field(default=0, init=False)

    @property
    def name(self) -> str:
        return f"cam{self.index}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise ToolError(f"{self.name} has not been started yet, so it has no port.")
        return self._port

    @property
    def url(self) -> str:
        return f"rtsp://{self.host}:{self.port}/{self.name}"

    @property
    def log_path(self) -> Path:
        """The server's stderr (appended across restarts)."""
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _spec(self) -> dict[str, Any]:
        mount: dict[str, Any] = {"path": f"/{self.name}", "mode": self.profile.mode, "codec": self.profile.codec}
        if self.profile.mode == "relay":
            if self.clip is None:
                raise ValueError(f"{self.name}: a relay profile needs a clip")
            mount.update(clip=str(self.clip.path), video_rtp=self.clip.video_rtp, audio_rtp=self.clip.audio_rtp)
        else:
            p = self.profile
            mount.update(
                width=p.width, height=p.height, fps=p.fps, gop=p.gop, bitrate_kbps=p.bitrate_kbps, audio=p.audio,
            )  # fmt: skip
        return {"host": self.host, "ffmpeg": self.ffmpeg, "mounts": [mount]}

    def start(self, timeout: float = 20.0) -> None:
        """Start serving (no-op if running) and return once a DESCRIBE on :attr:`url` succeeds."""
        if self.is_running:
            return
        self._launch()
        self._await_ready(time.monotonic() + timeout)

    def _launch(self) -> None:
        if self._proc is not None:  # a server that died by itself: reap it first
            self._kill()
        port = self._port if self._port is not None else (self.requested_port or 0)
        self.workdir.mkdir(parents=True, exist_ok=True)
        spec = json.dumps(self._spec())
        argv = [self.python, str(SERVER_SCRIPT), "--port", str(port), "--spec", spec, "--watch-stdin"]
        env = faketime_env(self.clock_offset_s) if self.clock_offset_s else None
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        self._frozen = False
        self.starts += 1
        _LIVE_CAMERAS.add(self)

    def _await_ready(self, deadline: float) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        line = _read_line(proc.stdout, deadline)
        if not line.startswith("READY "):
            self._kill()
            code = proc.poll()
            if code == SERVER_EXIT_NO_LISTEN:
                raise ToolError(
                    f"{self.name} could not listen on {self.host}:{self._port or self.requested_port}: "
                    f"the port is in use. {_tail(self.log_path, 300)}"
                )
            raise ToolError(f"{self.name}'s RTSP server did not start (status {code}): {_tail(self.log_path)}")
        self._port = int(json.loads(line[len("READY ") :])["port"])
        last: Exception | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                rtsp_describe(self.url, timeout=max(0.5, min(5.0, deadline - time.monotonic())))
                return
            except RtspError as exc:
                last = exc
                time.sleep(0.1)
        self._kill()
        raise ToolError(f"{self.name} did not answer DESCRIBE on {self.url} in time ({last}): {_tail(self.log_path)}")

    def stop(self, timeout: float = 5.0) -> None:
        """Take the camera offline: its process group is ended, connections drop, new ones are refused."""
        self._stop_group(timeout)

    def _forget(self) -> None:
        self._frozen = False
        _LIVE_CAMERAS.discard(self)

    def freeze(self) -> None:
        """Stop answering without closing anything (SIGSTOP the server): clients stall, as behind a
        dead network link. New connections are accepted by the kernel but never answered."""
        if self._proc is None or self._proc.poll() is not None:
            raise ToolError(f"{self.name} is not running, so it cannot be frozen.")
        os.kill(self._proc.pid, signal.SIGSTOP)
        self._frozen = True

    def thaw(self) -> None:
        """Undo :meth:`freeze`."""
        if self._proc is not None and self._frozen:
            os.kill(self._proc.pid, signal.SIGCONT)
        self._frozen = False

    def restart(self, downtime: float = 0.0, timeout: float = 20.0) -> None:
        """:meth:`stop`, wait ``downtime`` seconds, :meth:`start`."""
        self.stop()
        if downtime > 0:
            time.sleep(downtime)
        self.start(timeout=timeout)


def _read_line(stream: IO[bytes], deadline: float) -> str:
    """One line from a pipe, or what came before ``deadline`` / end of file."""
    buf = b""
    fd = stream.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
    return buf.split(b"\n", 1)[0].decode("utf-8", "replace")


class SimulatedCameraSet:
    """``n`` simulated cameras, ``cam1`` .. ``camN``, each with its own RTSP server process.

    ``profile`` is one profile name for all, or one per camera (cycled if shorter). With
    ``port_base``, camera ``i`` (1-based) listens on ``port_base + i - 1``; without, the kernel picks
    free ports (kept across restarts). Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        n: int = 1,
        profile: str | Sequence[str] = "h264",
        *,
        port_base: int | None = None,
        host: str = DEFAULT_HOST,
        cache: ClipCache | None = None,
        workdir: Path | None = None,
        python: str = SYSTEM_PYTHON,
        clock_offset_s: float = 0.0,
    ) -> None:
        if n < 1:
            raise UserError(f"The number of simulated cameras must be at least 1, not {n}.")
        names = [profile] if isinstance(profile, str) else list(profile)
        if not names:
            raise UserError("At least one camera profile is needed.")
        profiles = [profile_named(names[i % len(names)]) for i in range(n)]
        if port_base is not None and not (port_base >= 1 and port_base + n - 1 <= MAX_PORT):
            raise UserError(f"Ports {port_base}..{port_base + n - 1} are not all valid TCP ports.")
        self.cache = cache
        self.python = python
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="archive-sim-"))
        self._ffmpeg: str | None = None
        self._profiles = profiles
        self._host = host
        self._port_base = port_base
        self._clock_offset_s = clock_offset_s
        if clock_offset_s:
            faketime_env(clock_offset_s)  # fails now, naming the package, when libfaketime is missing
        self.cameras: list[SimCamera] = []

    def _build(self) -> None:
        check_gstreamer(self.python)
        if self.cache is None:
            self.cache = ClipCache()
        ffmpeg = self.cache.ffmpeg
        clips: dict[str, Clip] = {}
        for profile in self._profiles:
            if profile.mode == "relay" and profile.name not in clips:
                clips[profile.name] = self.cache.clip_for(profile)
        self.cameras = [
            SimCamera(
                index=i + 1,
                profile=profile,
                workdir=self.workdir,
                clip=clips.get(profile.name),
                host=self._host,
                requested_port=None if self._port_base is None else self._port_base + i,
                ffmpeg=ffmpeg,
                python=self.python,
                clock_offset_s=self._clock_offset_s,
            )
            for i, profile in enumerate(self._profiles)
        ]

    def start(self, timeout: float = 30.0) -> Self:
        """Start every camera (in parallel) and return once each answers DESCRIBE."""
        if not self.cameras:
            self._build()
        deadline = time.monotonic() + timeout
        pending = [c for c in self.cameras if not c.is_running]
        try:
            for camera in pending:
                camera._launch()
            with ThreadPoolExecutor(max_workers=min(16, len(pending) or 1)) as pool:
                for future in [pool.submit(c._await_ready, deadline) for c in pending]:
                    future.result()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every camera. The set can be started again."""
        for camera in self.cameras:
            camera.stop()

    def close(self) -> None:
        """Stop every camera and remove the work directory (logs) if the set made it."""
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
        return len(self._profiles)

    def __iter__(self) -> Iterator[SimCamera]:
        return iter(self.cameras)

    def __getitem__(self, index: int) -> SimCamera:
        return self.cameras[index]

    @property
    def urls(self) -> list[str]:
        return [c.url for c in self.cameras]


# --------------------------------------------------------------------------------------------
# CLI entry


def run_simulator(n: int, profile: str, port_base: int | None, out: TextIO) -> int:
    """Serve ``n`` cameras until SIGINT or SIGTERM; what ``archive simulate`` runs.

    ``profile`` is a profile name or a comma-separated list assigned round-robin
    (``h264,h265``). Prints one ``camN PROFILE URL`` line per camera. A camera whose server dies
    is restarted. Returns 0 when stopped by a signal; raises :class:`UserError` for bad arguments
    and :class:`ToolError` when the cameras cannot run.
    """
    names = [p.strip() for p in profile.split(",") if p.strip()]
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    cameras = SimulatedCameraSet(n, names, port_base=port_base)
    try:
        started = time.monotonic()
        cameras.start(timeout=30.0 + n)
        for camera in cameras:
            print(f"{camera.name} {camera.profile.name} {camera.url}", file=out)
        print(
            f"Simulating {n} camera(s), ready in {time.monotonic() - started:.1f} s; "
            "stop with Ctrl-C (SIGINT) or SIGTERM.",
            file=out,
            flush=True,
        )
        while not stop.wait(1.0):
            for camera in cameras:
                if not camera.is_running:
                    print(f"{camera.name} stopped unexpectedly; restarting it", file=out, flush=True)
                    camera.start()
    except KeyboardInterrupt:
        pass
    finally:
        cameras.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("Simulator stopped.", file=out, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m archive.sim.cameras [N] [PROFILE] [PORT_BASE]``, for manual use."""
    args = list(sys.argv[1:] if argv is None else argv)
    n = int(args[0]) if args else 1
    profile = args[1] if len(args) > 1 else "h264"
    port_base = int(args[2]) if len(args) > 2 else None
    return run_simulator(n, profile, port_base, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
