#!/usr/bin/python3
"""A GStreamer RTSP server that plays one or more simulated cameras.

This file is a standalone script for the *system* Python (``/usr/bin/python3``), because
``gi`` (PyGObject) is only installed there. It uses the standard library and ``gi`` only and
must not import anything from the ``archive`` package. ``archive.sim.cameras`` starts it as::

    /usr/bin/python3 gst_rtsp_server.py --port 8554 --spec '{"mounts": [...]}' [--watch-stdin]

``--port 0`` lets the kernel choose. ``--spec`` is a JSON object (or ``@path`` to a JSON file)::

    {
      "host": "127.0.0.1",                       # optional, default 127.0.0.1
      "ffmpeg": "/path/to/ffmpeg",               # needed by "relay" mounts
      "mounts": [
        {"path": "/cam1", "mode": "relay", "codec": "h264",           # or "h265"
         "clip": "/cache/clip.ts",                                     # looped forever, -c copy
         "video_rtp": {"encoding-name": "H264", "clock-rate": 90000,   # RTP caps of the feeder,
                       "sprop-parameter-sets": "..."},                 # from its SDP
         "audio_rtp": {"encoding-name": "MPEG4-GENERIC", ...} or null},
        {"path": "/cam2", "mode": "live", "codec": "h264",             # or "h265"
         "width": 1280, "height": 720, "fps": 25, "gop": 50, "bitrate_kbps": 2000,
         "audio": false}                                               # never B-frames
      ]
    }

Every mount's RTSP media is the same small relay: ``udpsrc`` (loopback RTP) ! ``rtpjitterbuffer``
(which turns RTP timestamps back into buffer times, so B-frames keep their order) ! depayloader !
parser (SPS/PPS before every IDR) ! payloader. What feeds the UDP port differs:

- "relay": ``ffmpeg -re -stream_loop -1 -i CLIP -c copy -f rtp`` (restarted if it dies). Cheap.
- "live": a GStreamer pipeline in this process that encodes a test pattern with the running time
  and the wall clock burnt in, in real time.

Each media is shared (all clients of a mount see one stream, like a real camera) and held
prepared from start to stop: the camera runs whether anyone watches or not, DESCRIBE answers at
once, and a client that reconnects immediately never meets a media that is shutting down.

When every mount is served, one line ``READY {"port": P, "mounts": [...]}`` is printed to stdout.
SIGTERM or SIGINT stop the feeders and the server and exit with status 0. With ``--watch-stdin``
the server also stops when its standard input reaches end of file, i.e. when the process that
holds the other end of the pipe dies, so a crashed test run leaves nothing behind. Feeders die
with the server (``PR_SET_PDEATHSIG``). A live source that fails ends the server with status 6.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1

EXIT_BAD_SPEC = 2
EXIT_NO_GI = 3
EXIT_NO_LISTEN = 4
EXIT_NO_MEDIA = 5
EXIT_SOURCE_FAILED = 6

_ELEMENTS = {
    "h264": ("rtph264depay", "h264parse", "rtph264pay"),
    "h265": ("rtph265depay", "h265parse", "rtph265pay"),
}
# A live source's caps are usable once the payloader has put the parameter sets into them.
_SPROP = {"h264": "sprop-parameter-sets", "h265": "sprop-sps"}


def _die_with_parent() -> None:
    """Ask the kernel to SIGTERM this (child) process when its parent thread exits (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _log(message: str) -> None:
    print(f"gst_rtsp_server[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _media_launch(codec: str, host: str, video_port: int, audio_port: int | None) -> str:
    """The RTSP media: relay RTP from loopback UDP. Caps are set on the udpsrcs in media-configure."""
    depay, parse, pay = _ELEMENTS[codec]
    video = (
        f"udpsrc name=vsrc address={host} port={video_port} buffer-size=4194304 "
        f"! rtpjitterbuffer latency=50 mode=none ! {depay} ! {parse} config-interval=-1 "
        f"! {pay} name=pay0 pt=96 config-interval=-1"
    )
    if audio_port is None:
        return f"( {video} )"
    audio = (
        f"udpsrc name=asrc address={host} port={audio_port} "
        "! rtpjitterbuffer latency=50 mode=none ! rtpmp4gdepay ! aacparse ! rtpmp4gpay name=pay1 pt=97"
    )
    return f"( {video} {audio} )"


def _live_source(mount: dict[str, Any], host: str, video_port: int, audio_port: int | None) -> str:
    """A pipeline that encodes a test pattern in real time and sends RTP to the media's ports."""
    width, height, fps = int(mount["width"]), int(mount["height"]), int(mount["fps"])
    gop, kbps, codec = int(mount["gop"]), int(mount["bitrate_kbps"]), mount["codec"]
    raw = (
        "videotestsrc is-live=true pattern=smpte "
        f"! video/x-raw,width={width},height={height},framerate={fps}/1 "
        '! timeoverlay halignment=left valignment=top font-desc="Sans 24" '
        '! clockoverlay halignment=right valignment=top font-desc="Sans 24" '
        'time-format="%Y-%m-%d %H:%M:%S" '
        "! videoconvert ! video/x-raw,format=I420"
    )
    # No B-frames in live mode: with x264enc's B-frames, the first frames a newly joined client
    # gets carry bogus RTP timestamps (seen with GStreamer 1.22). B-frames come from relay clips.
    if codec == "h264":
        enc = (
            f"x264enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} key-int-max={gop} bframes=0 "
            "threads=1 ! video/x-h264,profile=main ! h264parse"
        )
    else:
        opts = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:pools=1:frame-threads=1"
        enc = (
            f"x265enc speed-preset=ultrafast tune=zerolatency bitrate={kbps} key-int-max={gop} "
            f'log-level=error option-string="{opts}" ! h265parse'
        )
    pay = _ELEMENTS[codec][2]
    video = (
        f"{raw} ! {enc} ! {pay} config-interval=-1 pt=96 mtu=1200 "
        f"! udpsink name=vsink host={host} port={video_port} sync=false async=false"
    )
    if audio_port is None:
        return video
    audio = (
        "audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
        "! audio/x-raw,rate=48000,channels=1 ! audioconvert ! voaacenc bitrate=64000 "
        "! aacparse ! rtpmp4gpay pt=97 mtu=1200 "
        f"! udpsink name=asink host={host} port={audio_port} sync=false async=false"
    )
    return f"{video} {audio}"


class Feeder:
    """One ``ffmpeg -re -stream_loop -1 -c copy -f rtp`` process, restarted if it dies."""

    def __init__(self, ffmpeg: str, clip: str, host: str, video_port: int, audio_port: int | None) -> None:
        self.args = [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            "-re", "-stream_loop", "-1", "-i", clip,
            "-map", "0:v:0", "-c", "copy", "-f", "rtp", f"rtp://{host}:{video_port}?pkt_size=1200",
        ]  # fmt: skip
        if audio_port is not None:
            self.args += [
                "-map", "0:a:0", "-c", "copy", "-f", "rtp", f"rtp://{host}:{audio_port}?pkt_size=1200",
            ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )

    def poll(self) -> None:
        if self.stopping or self.proc is None:
            return
        code = self.proc.poll()
        if code is not None:
            _log(f"feeder {self.args[-1]} exited with status {code}; restarting it")
            self.start()

    def stop(self) -> None:
        self.stopping = True
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()  # plain RTP has no trailer to write; SIGTERM only makes ffmpeg complain
        self.proc.wait()


def serve(glib: Any, loop: Any, server: Any, feeders: list[Any], *, watch_stdin: bool, ready: dict[str, Any],
          shutdown: Callable[[], None]) -> None:  # fmt: skip
    """Print ``READY <json>``, run ``loop`` until SIGTERM/SIGINT or stdin closes, then ``shutdown``."""

    def quit_loop(*_: object) -> bool:
        loop.quit()
        return False

    def poll_feeders() -> bool:
        for feeder in feeders:
            feeder.poll()
        return True

    def cleanup_sessions() -> bool:
        server.get_session_pool().cleanup()
        return True

    def stdin_event(fd: int, _condition: object) -> bool:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            _log("standard input closed; stopping")
            loop.quit()
            return False
        return True

    glib.unix_signal_add(glib.PRIORITY_HIGH, signal.SIGTERM, quit_loop)
    glib.unix_signal_add(glib.PRIORITY_HIGH, signal.SIGINT, quit_loop)
    glib.timeout_add(1000, poll_feeders)
    glib.timeout_add_seconds(2, cleanup_sessions)
    if watch_stdin:
        glib.unix_fd_add_full(
            glib.PRIORITY_DEFAULT, sys.stdin.fileno(), glib.IOCondition.IN | glib.IOCondition.HUP, stdin_event
        )
    print("READY " + json.dumps(ready), flush=True)
    try:
        loop.run()
    finally:
        shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="RTSP port; 0 lets the kernel choose")
    parser.add_argument("--spec", required=True, help="JSON object, or @FILE holding one")
    parser.add_argument("--watch-stdin", action="store_true", help="stop when stdin reaches end of file")
    args = parser.parse_args(argv)
    raw: str = args.spec
    if raw.startswith("@"):
        raw = Path(raw[1:]).read_text(encoding="utf-8")
    try:
        spec: dict[str, Any] = json.loads(raw)
        mount_specs: list[dict[str, Any]] = list(spec["mounts"])
        for mount in mount_specs:
            if mount["mode"] not in ("relay", "live") or mount["codec"] not in _ELEMENTS:
                raise ValueError(f"bad mode or codec in {mount}")
    except (ValueError, KeyError, TypeError) as exc:
        _log(f"bad --spec: {exc}")
        return EXIT_BAD_SPEC
    host: str = spec.get("host", "127.0.0.1")

    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtsp", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
    except (ImportError, ValueError) as exc:
        _log(f"cannot import the GStreamer RTSP server bindings: {exc}")
        return EXIT_NO_GI

    Gst.init(None)
    loop = GLib.MainLoop()
    status = {"code": 0}
    feeders: list[Feeder] = []
    sources: list[Any] = []  # live source pipelines

    def shutdown() -> None:
        for feeder in feeders:
            feeder.stop()
        for pipeline in sources:
            pipeline.set_state(Gst.State.NULL)

    def rtp_caps(media: str, fields: dict[str, Any]) -> Any:
        structure = Gst.Structure.new_empty("application/x-rtp")
        structure.set_value("media", media)
        for key, value in fields.items():
            structure.set_value(key, value)
        caps = Gst.Caps.new_empty()
        caps.append_structure(structure)
        return caps

    def source_message(_bus: Any, message: Any, path: str) -> bool:
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            _log(f"live source of {path} failed: {error.message} ({debug})")
            status["code"] = EXIT_SOURCE_FAILED
            loop.quit()
        return True

    def wait_for_caps(sink: Any, needed: str, seconds: float) -> Any:
        """The caps on a live source's udpsink once they carry ``needed`` (parameter sets, config)."""
        deadline = time.monotonic() + seconds
        context = GLib.MainContext.default()
        while time.monotonic() < deadline and status["code"] == 0:
            caps = sink.get_static_pad("sink").get_current_caps()
            if caps is not None and caps.get_size() and caps.get_structure(0).has_field(needed):
                return caps.copy()
            if not context.iteration(False):
                time.sleep(0.01)
        return None

    # 1. Sources and the caps of what they send.
    plans: list[tuple[str, str, dict[str, Any]]] = []  # (path, media launch line, udpsrc caps)
    for mount in mount_specs:
        path, codec = mount["path"], mount["codec"]
        video_port = _free_udp_port(host)
        with_audio = bool(mount.get("audio_rtp")) if mount["mode"] == "relay" else bool(mount.get("audio"))
        audio_port = _free_udp_port(host) if with_audio else None
        if mount["mode"] == "relay":
            feeders.append(Feeder(spec["ffmpeg"], mount["clip"], host, video_port, audio_port))
            caps = {"vsrc": rtp_caps("video", mount["video_rtp"])}
            if audio_port is not None:
                caps["asrc"] = rtp_caps("audio", mount["audio_rtp"])
        else:
            try:
                pipeline = Gst.parse_launch(_live_source(mount, host, video_port, audio_port))
            except GLib.Error as exc:
                _log(f"cannot build the live source of {path}: {exc.message}")
                shutdown()
                return EXIT_BAD_SPEC
            bus = pipeline.get_bus()
            bus.add_signal_watch()
            bus.connect("message", source_message, path)
            pipeline.set_state(Gst.State.PLAYING)
            sources.append(pipeline)
            video_caps = wait_for_caps(pipeline.get_by_name("vsink"), _SPROP[codec], 15)
            audio_caps = wait_for_caps(pipeline.get_by_name("asink"), "config", 15) if audio_port else None
            if video_caps is None or (audio_port is not None and audio_caps is None):
                _log(f"the live source of {path} produced no stream")
                shutdown()
                return EXIT_SOURCE_FAILED
            caps = {"vsrc": video_caps}
            if audio_caps is not None:
                caps["asrc"] = audio_caps
        plans.append((path, _media_launch(codec, host, video_port, audio_port), caps))

    # 2. The server and its mounts.
    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(str(args.port))
    mount_points = server.get_mount_points()
    for path, launch, caps in plans:
        factory = GstRtspServer.RTSPMediaFactory()

        def configure(_factory: Any, media: Any, caps: dict[str, Any] = caps) -> None:
            bin_ = media.get_element()
            for name, value in caps.items():
                bin_.get_by_name(name).set_property("caps", value)

        factory.connect("media-configure", configure)
        factory.set_launch(launch)
        factory.set_shared(True)
        factory.set_latency(100)
        mount_points.add_factory(path, factory)
    served = [path for path, _, _ in plans]

    try:
        source_id = server.attach(None)
    except GLib.Error as exc:
        _log(f"cannot listen on {host}:{args.port}: {exc.message}")
        shutdown()
        return EXIT_NO_LISTEN
    if source_id == 0:
        _log(f"cannot listen on {host}:{args.port}")
        shutdown()
        return EXIT_NO_LISTEN
    port = server.get_bound_port()

    for feeder in feeders:
        feeder.start()

    # 3. Hold every media prepared: construct it as the first client would (same cache key:
    # port and path) so that clients find it in the factory's cache and never unprepare it.
    held: list[Any] = []
    for path in served:
        result, url = GstRtsp.RTSPUrl.parse(f"rtsp://{host}:{port}{path}")
        factory = mount_points.match(path)[0]
        media = factory.construct(url) if result == GstRtsp.RTSPResult.OK and factory else None
        # The media's bus is watched from a thread of the server's pool, as for a client's media.
        thread = server.get_thread_pool().get_thread(GstRtspServer.RTSPThreadType.CLIENT, GstRtspServer.RTSPContext())
        if media is None or thread is None or not media.prepare(thread):
            _log(f"cannot prepare the media of {path}")
            shutdown()
            return EXIT_NO_MEDIA
        held.append(media)

    serve(GLib, loop, server, feeders, watch_stdin=args.watch_stdin, ready={"port": port, "mounts": served},
          shutdown=shutdown)  # fmt: skip
    return status["code"]


if __name__ == "__main__":
    sys.exit(main())
