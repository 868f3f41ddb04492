"""A lean RTSP server for bulk simulated cameras: one process, one thread, many mounts.

Run by :class:`archive.sim.bulk.BulkCameraSet` (``server="lite"``) as::

    python -m archive.sim.lite_rtsp_server --port 0 --spec @spec.json [--watch-stdin]

with the spec of ``gst_bulk_server.py`` (``ffmpeg``, ``clip``, ``video_rtp``, ``count``, ``fps``;
H.264 without B-frames only). At start the cached clip is read once (``ffmpeg -c copy -f h264``),
split into access units and packetized into RTP (single NAL units and FU-A, 1400-byte packets,
as cameras send them), each frame kept as one ready-made run of RTSP interleaved packets. Every
mount ``/camN`` loops that clip live from its own random position (so cameras' keyframes are
spread out), 25 frames a second whether anyone watches or not; a client joins wherever the
camera is. Per frame and client only the RTP sequence numbers, timestamp and SSRC are patched
in and the frame goes out in one ``send``: what makes it cheap.

RTSP: OPTIONS, DESCRIBE (SDP with the clip's parameter sets), SETUP (TCP-interleaved only;
UDP is answered 461), PLAY, GET_PARAMETER/SET_PARAMETER (keep-alive), TEARDOWN. No RTCP is
sent; RTCP from clients is read and ignored. A client that stops reading for 16 s of video is
dropped. Prints ``READY {"port": P, "mounts": [...], "feeders": []}`` once listening; SIGTERM,
SIGINT (or end of stdin with ``--watch-stdin``) stop it with status 0. Standard library only.

Bursting source (spec ``burst_s`` > 0, ``burst_speed``, default 10): like a relay or NVR that
caches video, a mount that starts playing begins ``burst_s`` seconds in the past and sends that
backlog ``burst_speed`` times faster than real time (RTP timestamps at the media rate, so media
time runs ahead of wall time) until it has caught up with the live position, then goes on at 1x.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MTU = 1400  # RTP packet size (header + payload), as IP cameras send
TICK_S = 0.01  # frames due are sent in batches at most this often
MAX_BACKLOG = 4 * 1024 * 1024  # bytes queued for a client that does not read: then it is dropped
CLOCK = 90000
EXIT_BAD_SPEC = 2
EXIT_NO_LISTEN = 4
_START = re.compile(rb"\x00\x00\x01")
_HEADER = struct.Struct("!HII")  # sequence number, timestamp, SSRC (RTP header bytes 2..12)


def access_units(annexb: bytes) -> list[list[bytes]]:
    """H.264 Annex B split into access units (lists of NAL units; AUDs and empty NALs dropped)."""
    nals = [n.rstrip(b"\x00") for n in _START.split(annexb)]
    units: list[list[bytes]] = []
    current: list[bytes] = []
    seen_slice = False
    for nal in nals:
        if not nal:
            continue
        kind = nal[0] & 0x1F
        starts_au = kind in (6, 7, 8, 9) or (kind in (1, 5) and len(nal) > 1 and nal[1] & 0x80)
        if seen_slice and starts_au:  # first_mb_in_slice == 0, or a non-VCL unit after a slice
            units.append(current)
            current, seen_slice = [], False
        if kind != 9:
            current.append(nal)
        seen_slice = seen_slice or kind in (1, 5)
    if current and seen_slice:
        units.append(current)
    return units


def packetize(unit: list[bytes]) -> tuple[bytes, list[int]]:
    """One access unit as RTSP interleaved RTP packets (channel 0) and the offsets of their RTP headers.

    Sequence number, timestamp and SSRC are left zero, to be patched in per client.
    """
    payloads: list[bytes] = []
    room = MTU - 12
    for nal in unit:
        if len(nal) <= room:
            payloads.append(nal)
            continue
        indicator, kind = (nal[0] & 0xE0) | 28, nal[0] & 0x1F
        body = nal[1:]
        chunks = [body[i : i + room - 2] for i in range(0, len(body), room - 2)]
        for i, chunk in enumerate(chunks):
            flags = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
            payloads.append(bytes((indicator, flags | kind)) + chunk)
    out = bytearray()
    offsets = []
    for i, payload in enumerate(payloads):
        out += b"$\x00" + struct.pack("!H", 12 + len(payload))
        offsets.append(len(out))
        marker = 0x80 if i == len(payloads) - 1 else 0
        out += bytes((0x80, marker | 96)) + bytes(10) + payload
    return bytes(out), offsets


@dataclass
class Client:
    sock: socket.socket
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    session: str = ""
    camera: int = 0  # 1-based mount being played, 0 if none
    seq: int = field(default_factory=lambda: secrets.randbits(16))
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    ts_base: int = field(default_factory=lambda: secrets.randbits(32))
    closing: bool = False


def load_frames(ffmpeg: str, clip: str) -> list[tuple[bytes, list[int]]]:
    """The clip's frames, packetized (see :func:`packetize`)."""
    result = subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-i", clip, "-map", "0:v:0", "-c", "copy", "-f", "h264", "-"],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    frames = [packetize(unit) for unit in access_units(result.stdout)]
    if not frames:
        raise ValueError("the clip has no H.264 access units")
    return frames


class Server:
    def __init__(self, spec: dict[str, Any], frames: list[tuple[bytes, list[int]]], port: int) -> None:
        self.host: str = spec.get("host", "127.0.0.1")
        self.count = int(spec["count"])
        self.fps = float(spec.get("fps", 25))
        self.frames = frames
        rtp = spec["video_rtp"]
        self.fmtp = ";".join(
            f"{key}={rtp[key]}"
            for key in ("packetization-mode", "profile-level-id", "sprop-parameter-sets")
            if key in rtp
        )
        self.started = time.monotonic()
        self.offsets = [secrets.randbelow(len(self.frames)) for _ in range(self.count)]
        self.sent = [0] * (self.count + 1)  # next frame index (since start) per camera, for playing ones
        self.players: dict[int, list[Client]] = {}
        self.sel = selectors.DefaultSelector()
        self.listener = socket.create_server((self.host, port), backlog=1024)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.port: int = self.listener.getsockname()[1]
        self.running = True
        self.burst_s = float(spec.get("burst_s", 0))
        self.burst_speed = max(1.0, float(spec.get("burst_speed", 10)))
        self.catchup: dict[int, tuple[float, float]] = {}  # camera -> (frame position, when), while bursting

    # ---- media
    def _frame_index(self, now: float) -> int:
        return int((now - self.started) * self.fps)

    def _due(self, camera: int, now: float) -> int:
        """One past the last frame index to have been sent by ``now`` (ahead of live while bursting)."""
        live = self._frame_index(now) + 1
        if camera not in self.catchup:
            return live
        position, since = self.catchup[camera]
        position += self.burst_speed * self.fps * (now - since)
        if position >= live:
            del self.catchup[camera]
            return live
        self.catchup[camera] = (position, now)
        return int(position)

    def _send_due(self, now: float) -> None:
        for camera, clients in list(self.players.items()):  # a client may be dropped on the way
            due = self._due(camera, now)
            for index in range(self.sent[camera], due):
                template, offsets = self.frames[(self.offsets[camera - 1] + index) % len(self.frames)]
                timestamp = int(index * CLOCK / self.fps)
                for client in list(clients):
                    if client.closing:
                        continue
                    buf = bytearray(template)
                    ts = (client.ts_base + timestamp) & 0xFFFFFFFF
                    for k, offset in enumerate(offsets):
                        _HEADER.pack_into(buf, offset + 2, (client.seq + k) & 0xFFFF, ts, client.ssrc)
                    client.seq = (client.seq + len(offsets)) & 0xFFFF
                    self._queue(client, buf)
            self.sent[camera] = due

    # ---- RTSP
    def _handle(self, client: Client, method: str, url: str, headers: dict[str, str]) -> None:
        cseq = headers.get("cseq", "0")
        match = re.fullmatch(r"rtsp://[^/]+/cam(\d+)(/stream=0)?/?", url)
        camera = int(match.group(1)) if match else 0
        extra: list[str] = []
        body = ""
        status = "200 OK"
        if method == "OPTIONS":
            extra.append("Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER")
        elif method in ("GET_PARAMETER", "SET_PARAMETER"):
            pass
        elif not 1 <= camera <= self.count:
            status = "404 Not Found"
        elif method == "DESCRIBE":
            body = (
                f"v=0\r\no=- {camera} 1 IN IP4 {self.host}\r\ns=cam{camera}\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                f"a=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 {self.fmtp}\r\n"
                "a=control:stream=0\r\n"
            )
            base = url.rstrip("/")
            extra += [f"Content-Base: {base}/", "Content-Type: application/sdp"]
        elif method == "SETUP":
            if "TCP" not in headers.get("transport", "").upper():
                status = "461 Unsupported Transport"
            else:
                client.session = client.session or secrets.token_hex(6)
                client.camera = camera
                extra += ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1", f"Session: {client.session};timeout=60"]
        elif method == "PLAY" and client.session:
            now = time.monotonic()
            players = self.players.setdefault(camera, [])
            if not players:
                self.sent[camera] = self._frame_index(now) + 1 - int(self.burst_s * self.fps)
                if self.burst_s > 0:
                    self.catchup[camera] = (float(self.sent[camera]), now)
            if client not in players:
                players.append(client)
            rtptime = (client.ts_base + int(self.sent[camera] * CLOCK / self.fps)) & 0xFFFFFFFF
            extra += [
                f"Session: {client.session}",
                "Range: npt=now-",
                f"RTP-Info: url={url.rstrip('/')};seq={client.seq};rtptime={rtptime}",
            ]
        elif method == "TEARDOWN":
            client.closing = True
        else:
            status = "405 Method Not Allowed"
        lines = [f"RTSP/1.0 {status}", f"CSeq: {cseq}", "Server: archive-sim-lite", *extra]
        lines.append(f"Content-Length: {len(body.encode())}")
        self._queue(client, ("\r\n".join(lines) + "\r\n\r\n" + body).encode())

    def _parse(self, client: Client) -> None:
        buf = client.inbox
        while buf:
            if buf[0] == 0x24:  # "$": interleaved RTCP from the client
                if len(buf) < 4 or len(buf) < 4 + struct.unpack_from("!H", buf, 2)[0]:
                    return
                del buf[: 4 + struct.unpack_from("!H", buf, 2)[0]]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    client.closing = True
                return
            head = bytes(buf[:end]).decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
            length = int(headers.get("content-length", "0") or 0)
            if len(buf) < end + 4 + length:
                return
            del buf[: end + 4 + length]
            parts = head[0].split()
            if len(parts) != 3:
                client.closing = True
                return
            self._handle(client, parts[0], parts[1], headers)

    # ---- sockets
    def _queue(self, client: Client, data: bytes | bytearray) -> None:
        if not client.outbox:
            try:
                sent = client.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._drop(client)
                return
            if sent == len(data):
                return
            data = data[sent:]
            self.sel.modify(client.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
        client.outbox += data
        if len(client.outbox) > MAX_BACKLOG:
            self._drop(client)

    def _flush(self, client: Client) -> None:
        try:
            sent = client.sock.send(client.outbox)
        except BlockingIOError:
            return
        except OSError:
            self._drop(client)
            return
        del client.outbox[:sent]
        if client.outbox:
            return
        if client.closing:
            self._drop(client)
        else:
            self.sel.modify(client.sock, selectors.EVENT_READ, client)

    def _drop(self, client: Client) -> None:
        client.closing = True
        players = self.players.get(client.camera, [])
        if client in players:
            players.remove(client)
            if not players:
                del self.players[client.camera]
        try:
            self.sel.unregister(client.sock)
        except (KeyError, ValueError):
            return
        client.sock.close()

    def serve(self) -> None:
        next_tick = time.monotonic()
        while self.running:
            timeout = max(0.0, next_tick - time.monotonic())
            for key, events in self.sel.select(timeout):
                if key.data is None:
                    self._accept()
                    continue
                if key.data == "stdin":
                    self.running = bool(os.read(key.fd, 4096))
                    continue
                client: Client = key.data
                if events & selectors.EVENT_WRITE:
                    self._flush(client)
                if events & selectors.EVENT_READ:
                    self._read(client)
            now = time.monotonic()
            if now >= next_tick:
                self._send_due(now)
                next_tick = now + TICK_S

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sel.register(sock, selectors.EVENT_READ, Client(sock))

    def _read(self, client: Client) -> None:
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        client.inbox += data
        self._parse(client)
        if client.closing and not client.outbox:
            self._drop(client)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="RTSP port; 0 lets the kernel choose")
    parser.add_argument("--spec", required=True, help="JSON object, or @FILE holding one")
    parser.add_argument("--watch-stdin", action="store_true", help="stop when stdin reaches end of file")
    args = parser.parse_args(argv)
    raw: str = args.spec
    try:
        spec = json.loads(Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw)
        if spec.get("codec", "h264") != "h264":
            raise ValueError("the lite server relays H.264 only")
        frames = load_frames(spec["ffmpeg"], spec["clip"])
    except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError) as exc:
        print(f"lite_rtsp_server: bad spec or clip: {exc}", file=sys.stderr)
        return EXIT_BAD_SPEC
    try:
        server = Server(spec, frames, args.port)
    except OSError as exc:
        print(f"lite_rtsp_server: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return EXIT_NO_LISTEN

    def stop(*_: object) -> None:
        server.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.watch_stdin:
        server.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    mounts = [f"/cam{i}" for i in range(1, server.count + 1)]
    print("READY " + json.dumps({"port": server.port, "mounts": mounts, "feeders": []}), flush=True)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
