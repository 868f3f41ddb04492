#!/usr/bin/python3
"""Bulk mode: one GStreamer RTSP server process serving many cameras that relay one cached clip.

A standalone script for the *system* Python (``gi`` only imports there), like
``gst_rtsp_server.py`` beside it, whose helpers it reuses. ``archive.sim.bulk`` starts it as::

    /usr/bin/python3 gst_bulk_server.py --port 0 --spec '{"count": 100, ...}' [--watch-stdin]

``--spec`` is a JSON object (or ``@path`` to a JSON file)::

    {
      "host": "127.0.0.1",            # optional, default 127.0.0.1
      "ffmpeg": "/path/to/ffmpeg",
      "codec": "h264",                # or "h265"
      "clip": "/cache/clip.ts",       # looped forever with -c copy; video only, no B-frames
      "video_rtp": {...},             # RTP caps of the clip (from ffmpeg's SDP), as in gst_rtsp_server.py
      "count": 100,                   # mounts /cam1 .. /camN
      "per_feeder": 10,               # mounts fed by one ffmpeg process (default 10)
      "stagger_s": 2.0                # feeders start this far apart in total (default 2.0: one GOP)
    }

Feeding: ``ceil(count / per_feeder)`` ffmpeg processes, each ``-re -stream_loop -1 -i CLIP -c copy
-f tee`` into ``per_feeder`` loopback RTP outputs (``onfail=ignore``, no RTCP). They send large
RTP packets (``pkt_size`` 60000: one packet per frame, mostly), which the server receives
into one bound UDP socket per mount (bound before any feeder starts, so no ephemeral port of
a feeder can take it). Feeders start ``stagger_s / feeders`` seconds apart, so the cameras'
keyframes (and the recorders' segment cuts) do not all fall on the same instant.

Every mount's media: ``udpsrc ! rtph264depay ! h264parse ! rtph264pay`` (MTU 1400, SPS/PPS
before every IDR): the client sees ordinary 1400-byte RTP packets over RTSP. There is no
``rtpjitterbuffer`` (it cost about 40 % more CPU): outgoing RTP timestamps follow arrival
times, which is why bulk clips must not have B-frames. Medias are shared and held prepared
from start to stop, as in ``gst_rtsp_server.py``. Measured costs: see ``archive/sim/bulk.py``.

Prints ``READY {"port": P, "mounts": [...], "feeders": [pid, ...]}`` when every mount is served.
SIGTERM/SIGINT (or end of stdin with ``--watch-stdin``) stop it with status 0. A feeder that
dies is restarted; feeders die with the server.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the archive package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.sim.gst_rtsp_server import (  # standard library only, like this script
    _ELEMENTS,
    EXIT_BAD_SPEC,
    EXIT_NO_GI,
    EXIT_NO_LISTEN,
    EXIT_NO_MEDIA,
    Feeder,
    _log,
    serve,
)

FEED_PACKET_BYTES = 60000  # loopback UDP takes up to 65507; the server re-packetizes to MTU 1400
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024  # 16 s of a 2 Mbit/s camera
SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE = socket.SOL_SOCKET, socket.SO_RCVBUF, 33  # Linux


class TeeFeeder(Feeder):
    """One ffmpeg that loops ``clip`` into several RTP ports at once (``-f tee``)."""

    def __init__(self, ffmpeg: str, clip: str, host: str, ports: list[int]) -> None:
        super().__init__(ffmpeg, clip, host, ports[0], None)
        outputs = "|".join(
            f"[f=rtp:onfail=ignore:rtpflags=skip_rtcp]rtp://{host}:{port}?pkt_size={FEED_PACKET_BYTES}"
            for port in ports
        )
        self.args = [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            "-re", "-stream_loop", "-1", "-i", clip, "-map", "0:v:0", "-c", "copy", "-f", "tee", outputs,
        ]  # fmt: skip


def media_launch(codec: str) -> str:
    """The RTSP media of one mount; ``vsrc`` gets its caps and bound socket in media-configure."""
    depay, parse, pay = _ELEMENTS[codec]
    return (
        "( udpsrc name=vsrc close-socket=false mtu=65536 ! rtpjitterbuffer latency=50 mode=none "
        f"! {depay} ! {parse} config-interval=-1 ! {pay} name=pay0 pt=96 config-interval=-1 )"
    )


def _enlarge_receive_buffer(sock: Any, glib: Any) -> None:
    """RECEIVE_BUFFER_BYTES for a udpsrc's socket (SO_RCVBUFFORCE as root, else SO_RCVBUF).

    A media stops reading for about a second while a client joins; with the default buffer
    (about 200 kB) the frames of that second were lost and every new client began with a gap.
    """
    for option in (SO_RCVBUFFORCE, SO_RCVBUF):
        try:
            sock.set_option(SOL_SOCKET, option, RECEIVE_BUFFER_BYTES)
            return
        except glib.Error:
            continue
    _log("could not enlarge a UDP receive buffer; new clients may miss their first second")


def _read_spec(raw: str) -> dict[str, Any]:
    if raw.startswith("@"):
        raw = Path(raw[1:]).read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(raw)
    if not isinstance(spec, dict) or spec.get("codec", "h264") not in _ELEMENTS:
        raise ValueError("bad codec")
    for key in ("ffmpeg", "clip", "video_rtp", "count"):
        if key not in spec:
            raise ValueError(f"missing {key}")
    if int(spec["count"]) < 1 or int(spec.get("per_feeder", 10)) < 1:
        raise ValueError("count and per_feeder must be at least 1")
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="RTSP port; 0 lets the kernel choose")
    parser.add_argument("--spec", required=True, help="JSON object, or @FILE holding one")
    parser.add_argument("--watch-stdin", action="store_true", help="stop when stdin reaches end of file")
    args = parser.parse_args(argv)
    try:
        spec = _read_spec(args.spec)
    except (OSError, ValueError, TypeError) as exc:
        _log(f"bad --spec: {exc}")
        return EXIT_BAD_SPEC
    host: str = spec.get("host", "127.0.0.1")
    codec: str = spec.get("codec", "h264")
    count, per_feeder = int(spec["count"]), int(spec.get("per_feeder", 10))
    stagger = float(spec.get("stagger_s", 2.0))

    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtsp", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import Gio, GLib, Gst, GstRtsp, GstRtspServer
    except (ImportError, ValueError) as exc:
        _log(f"cannot import the GStreamer RTSP server bindings: {exc}")
        return EXIT_NO_GI

    Gst.init(None)
    loop = GLib.MainLoop()
    feeders: list[TeeFeeder] = []

    def shutdown() -> None:
        for feeder in feeders:
            feeder.stop()

    structure = Gst.Structure.new_empty("application/x-rtp")
    structure.set_value("media", "video")
    for key, value in spec["video_rtp"].items():
        structure.set_value(key, value)
    caps = Gst.Caps.new_empty()
    caps.append_structure(structure)

    # 1. One bound UDP socket per mount, held until the end.
    sockets: list[Any] = []
    for _ in range(count):
        sock = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP)
        sock.bind(Gio.InetSocketAddress.new_from_string(host, 0), False)
        _enlarge_receive_buffer(sock, GLib)
        sockets.append(sock)
    udp_ports = [sock.get_local_address().get_port() for sock in sockets]

    # 2. The server and its mounts.
    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(str(args.port))
    mount_points = server.get_mount_points()
    paths = [f"/cam{i}" for i in range(1, count + 1)]
    for path, sock in zip(paths, sockets, strict=True):
        factory = GstRtspServer.RTSPMediaFactory()

        def configure(_factory: Any, media: Any, sock: Any = sock) -> None:
            src = media.get_element().get_by_name("vsrc")
            src.set_property("caps", caps)
            src.set_property("socket", sock)

        factory.connect("media-configure", configure)
        factory.set_launch(media_launch(codec))
        factory.set_shared(True)
        factory.set_latency(100)
        mount_points.add_factory(path, factory)
    try:
        source_id = server.attach(None)
    except GLib.Error as exc:
        _log(f"cannot listen on {host}:{args.port}: {exc.message}")
        return EXIT_NO_LISTEN
    if source_id == 0:
        _log(f"cannot listen on {host}:{args.port}")
        return EXIT_NO_LISTEN
    port = server.get_bound_port()

    # 3. Feeders, started a fraction of a GOP apart.
    groups = [udp_ports[i : i + per_feeder] for i in range(0, count, per_feeder)]
    for index, group in enumerate(groups):
        if index:
            time.sleep(stagger / len(groups))
        feeder = TeeFeeder(spec["ffmpeg"], spec["clip"], host, group)
        feeder.start()
        feeders.append(feeder)

    # 4. Hold every media prepared (see gst_rtsp_server.py: same cache key as a client's).
    held: list[Any] = []
    pool = server.get_thread_pool()
    for path in paths:
        result, url = GstRtsp.RTSPUrl.parse(f"rtsp://{host}:{port}{path}")
        factory = mount_points.match(path)[0]
        media = factory.construct(url) if result == GstRtsp.RTSPResult.OK and factory else None
        thread = pool.get_thread(GstRtspServer.RTSPThreadType.CLIENT, GstRtspServer.RTSPContext())
        if media is None or thread is None or not media.prepare(thread):
            _log(f"cannot prepare the media of {path}")
            shutdown()
            return EXIT_NO_MEDIA
        held.append(media)

    ready = {"port": port, "mounts": paths, "feeders": [f.proc.pid for f in feeders if f.proc is not None]}
    serve(GLib, loop, server, feeders, watch_stdin=args.watch_stdin, ready=ready, shutdown=shutdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
