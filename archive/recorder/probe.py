"""Facts about one finished segment, from one pass over its bytes.

:func:`probe_segment` reads the file once: each chunk goes into SHA-256 *and* into the parser, so
the hash and the media facts describe exactly the same bytes (no second read, no window in which
the file could differ between hashing and probing). ``tool="python"`` (production) parses the
transport stream in this process (:mod:`archive.recorder.tsparse`); video that parser does not read
(neither H.264 nor H.265) falls back to ``tool="ffmpeg"``: the file is piped into the ffmpeg binary's
``framecrc`` listing while it is hashed, and duration, keyframe start and holes are computed from
the listed packet timestamps, which a third party can recompute from the stored object. Debian's
ffprobe, the reference both are tested against, is a test oracle (tests/fixtures/ffprobe_oracle.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

from archive.errors import ToolError
from archive.recorder.ffmpeg import CONTAINER, find_ffmpeg
from archive.recorder.tsparse import TS, TsParser, TsSummary

CHUNK: Final = TS * 5576  # 1 MiB rounded down to whole TS packets (1,048,288 bytes)
TS_PACKET: Final = TS
MEDIA_HOLE_S: Final = 1.0  # a jump between consecutive video timestamps larger than this is a hole


@dataclass(frozen=True)
class ProbedSegment:
    """What one segment file contains.

    ``duration`` spans the video packets (first PTS to last PTS + its duration), else all packets.
    ``readable``: the parser or listing read it and found video. ``complete``: whole 188-byte TS packets and no
    demuxer errors. ``max_video_gap``: the largest step between consecutive video timestamps (a
    value above ~1 s means frames are missing inside the segment). ``problems`` lists the listing tool's
    error lines and anything odd found here. ``video_packets`` counts access units (one per PES
    in FFmpeg's muxer, so all tools agree). ``audio_packets`` is the ffprobe/framecrc count of
    audio frames, but the in-process parser (``tool="python"``) counts PES packets, which may
    each hold several frames (about 1/15 as many for AAC): compare it with 0 only ("the audio
    stream has no packets"), never across tools.
    """

    size: int
    sha256: str
    duration: float
    video_codec: str | None
    width: int | None
    height: int | None
    starts_with_keyframe: bool
    audio_codec: str | None
    video_packets: int
    audio_packets: int
    data_streams: int
    max_video_gap: float
    readable: bool
    complete: bool
    problems: tuple[str, ...] = ()


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, via :func:`hashlib.file_digest`. Raises :class:`OSError`."""
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
        return digest.hexdigest(), fh.tell()


def _feed(path: Path, sink: IO[bytes] | None, digest: Any, sizes: list[int], errors: list[BaseException]) -> None:
    """Hash every byte of ``path`` and copy it to ``sink`` while the listing tool still reads."""
    size = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if sink is not None:
                    try:
                        sink.write(chunk)
                    except (BrokenPipeError, ValueError, OSError):
                        sink = None  # the tool gave up; keep hashing
    except OSError as exc:
        errors.append(exc)
    finally:
        sizes.append(size)
        if sink is not None:
            with contextlib.suppress(OSError, ValueError):
                sink.close()


def _drain(stream: IO[bytes], out: list[bytes]) -> None:
    out.append(stream.read())


def run_one_pass(argv: list[str], path: Path, timeout: float) -> tuple[bytes, str, int | None, int, str]:
    """Run ``argv`` with the file's bytes on stdin while hashing them; (stdout, stderr, status, size, sha256).

    Raises :class:`ToolError` when the program cannot start or runs longer than ``timeout``, and
    :class:`OSError` when the file cannot be read.
    """
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise ToolError(f"cannot run {argv[0]}: {exc}") from exc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    digest = hashlib.sha256()
    sizes: list[int] = []
    read_errors: list[BaseException] = []
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    threads = [
        threading.Thread(target=_feed, args=(path, proc.stdin, digest, sizes, read_errors), daemon=True),
        threading.Thread(target=_drain, args=(proc.stdout, out_chunks), daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, err_chunks), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        raise ToolError(f"{Path(argv[0]).name} took longer than {timeout:g} s on {path}") from exc
    finally:
        for thread in threads:
            thread.join(timeout=timeout)
        proc.stdout.close()
        proc.stderr.close()
    if read_errors:
        raise read_errors[0]
    stderr = b"".join(err_chunks).decode("utf-8", "replace")
    return b"".join(out_chunks), stderr, proc.returncode, sizes[0] if sizes else 0, digest.hexdigest()


def parse_chunks(chunks: Iterable[bytes]) -> ProbedSegment | None:
    """Hash and parse a transport stream in this process (:mod:`archive.recorder.tsparse`); None
    when its video is neither H.264 nor H.265 (MPEG-2, MPEG-4 part 2: the parser reads no picture
    size, probe it with ``tool="ffmpeg"``). Never raises."""
    digest, parser, size = hashlib.sha256(), TsParser(), 0
    for chunk in chunks:
        digest.update(chunk)
        parser.feed(chunk)
        size += len(chunk)
    facts = facts_from_ts(parser.finish(), size=size, sha256=digest.hexdigest())
    return facts if facts.video_codec in (None, "h264", "hevc") else None


def probe_segment(
    path: Path,
    *,
    tool: Literal["ffmpeg", "python"] = "python",
    ffmpeg: str | None = None,
    timeout: float = 120.0,
) -> ProbedSegment:
    """Hash and probe ``path`` in one read.

    ``tool="python"`` (default) parses the transport stream in this process
    (:mod:`archive.recorder.tsparse`, no subprocess; see :func:`facts_from_ts` for how it differs from
    FFmpeg's listings); ``tool="ffmpeg"`` pipes the file into the ffmpeg binary's ``framecrc``
    listing instead. Raises :class:`OSError` when the file cannot be read, :class:`ToolError` when
    ffmpeg is missing, cannot start or runs longer than ``timeout`` (for ``"python"`` only when the
    video is neither H.264 nor H.265: such a file is probed again with ``"ffmpeg"``, whose single read
    gives both hash and facts). An unparseable file is not an error: it gives ``readable=False`` with
    the reason in ``problems``.
    """
    if tool == "python":
        with path.open("rb") as fh:
            facts = parse_chunks(iter(lambda: fh.read(CHUNK), b""))
        if facts is not None:
            return facts
    argv = [find_ffmpeg(ffmpeg), "-nostdin", "-hide_banner", "-v", "error", "-f", CONTAINER, "-i", "pipe:0"]
    argv += ["-map", "0", "-c", "copy", "-copyinkf", "-copyts", "-f", "framecrc", "-"]
    out, err, status, size, sha = run_one_pass(argv, path, timeout)
    return facts_from_framecrc(out, err, status, size=size, sha256=sha)


@dataclass(frozen=True)
class ListedStream:
    """One stream of a packet listing (ffmpeg framecrc, or ffprobe in the tests)."""

    kind: str
    codec: str | None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class ListedPacket:
    """One packet of a listing: stream index, PTS in seconds (None when unset), duration, keyframe."""

    stream: int
    pts: float | None
    duration: float
    key: bool


def facts_from_listing(
    streams: dict[int, ListedStream],
    packets: list[ListedPacket],
    problems: list[str],
    *,
    stderr: str,
    returncode: int | None,
    size: int,
    sha256: str,
) -> ProbedSegment:
    """The facts from a normalized stream and packet listing (framecrc here, ffprobe in the tests). Never raises."""
    if returncode not in (0, None):
        problems.append(f"exit status {returncode}")
    video = next((s for s in streams.values() if s.kind == "video"), None)
    audio = next((s for s in streams.values() if s.kind == "audio"), None)
    vpk = [p for p in packets if streams.get(p.stream, ListedStream("", None)).kind == "video"]
    apk = [p for p in packets if streams.get(p.stream, ListedStream("", None)).kind == "audio"]
    timed = [(p.pts, p.duration) for p in (vpk or packets) if p.pts is not None]
    span = max(t + d for t, d in timed) - min(t for t, _ in timed) if timed else 0.0
    pts = sorted(p.pts for p in vpk if p.pts is not None)
    max_gap = max((b - a for a, b in itertools.pairwise(pts)), default=0.0)
    if max_gap > MEDIA_HOLE_S:
        problems.append(f"video timestamps jump by {max_gap:.3f} s inside the segment")
    if size % TS_PACKET:
        problems.append(f"size {size} is not a whole number of {TS_PACKET}-byte TS packets (truncated)")
    if audio is not None and not apk:
        problems.append("the audio stream has no packets")
    if not vpk:
        problems.append("no video packets")
    readable = returncode == 0 and bool(vpk)
    return ProbedSegment(
        size=size,
        sha256=sha256,
        duration=round(max(0.0, span), 6),
        video_codec=video.codec if video else None,
        width=video.width if video else None,
        height=video.height if video else None,
        starts_with_keyframe=bool(vpk) and vpk[0].key,
        audio_codec=audio.codec if audio else None,
        video_packets=len(vpk),
        audio_packets=len(apk),
        data_streams=sum(1 for s in streams.values() if s.kind == "data"),
        max_video_gap=round(max_gap, 6),
        readable=readable,
        complete=readable and size % TS_PACKET == 0 and not stderr.strip(),
        problems=tuple(problems),
    )


def facts_from_ts(ts: TsSummary, *, size: int, sha256: str) -> ProbedSegment:
    """Build :class:`ProbedSegment` from :class:`~archive.recorder.tsparse.TsSummary`. Never raises.

    Same fields and problem texts as the ffprobe/framecrc paths (tests/unit/recorder/test_tsparse.py
    compares all three on real files), with these measured differences: ``duration`` may differ
    by up to one frame (last PTS + the most common PTS step, where FFmpeg adds its guess of the
    last packet's duration: 2.0 s vs ffprobe 5.1's 1.96 s for openh264); ``audio_packets`` counts
    PES packets, not audio frames (30 vs 469 for 10 s of AAC); ``complete`` is stricter (also
    false for bad sync bytes, transport_error_indicator and a bounded PES cut short at the end,
    which FFmpeg reports only when its decoder trips over them) and is not made false by FFmpeg's
    decoder errors on a segment that starts without SPS/PPS (that is ``starts_with_keyframe=False``,
    not damage). G.711 audio is a data stream here as in FFmpeg (its muxer writes stream_type 0x06
    without a descriptor: ``bin_data``), so ``audio_codec`` is None and ``data_streams`` 1.
    """
    problems = list(ts.problems + ts.notes)
    if ts.max_video_gap > MEDIA_HOLE_S:
        problems.append(f"video timestamps jump by {ts.max_video_gap:.3f} s inside the segment")
    if ts.audio_codec is not None and not ts.audio_packets:
        problems.append("the audio stream has no packets")
    if not ts.psi:
        problems.append("no PAT/PMT with elementary streams: not a readable transport stream")
    if not ts.video_packets:
        problems.append("no video packets")
    readable = ts.psi and ts.video_packets > 0
    return ProbedSegment(
        size=size,
        sha256=sha256,
        duration=ts.duration,
        video_codec=ts.video_codec,
        width=ts.width,
        height=ts.height,
        starts_with_keyframe=ts.starts_with_keyframe,
        audio_codec=ts.audio_codec,
        video_packets=ts.video_packets,
        audio_packets=ts.audio_packets,
        data_streams=ts.data_streams,
        max_video_gap=ts.max_video_gap,
        readable=readable,
        complete=readable and not ts.problems,
        problems=tuple(problems),
    )


_NOPTS: Final = -(2**63)


def facts_from_framecrc(out: bytes, stderr: str, returncode: int | None, *, size: int, sha256: str) -> ProbedSegment:
    """Build :class:`ProbedSegment` from ffmpeg's ``framecrc`` listing (pure; unit-testable). Never raises.

    Header lines ``#tb N: a/b``, ``#media_type N: video``, ``#codec_id N: h264``, ``#dimensions N: WxH``;
    packet lines ``stream, dts, pts, duration, size, crc[, F=0xflags][, S=...]`` (no ``F=`` means
    exactly the keyframe flag).
    """
    problems = [line.strip() for line in stderr.splitlines() if line.strip()][:20]
    base: dict[int, float] = {}
    kinds: dict[int, str] = {}
    codecs: dict[int, str] = {}
    dims: dict[int, tuple[int, int]] = {}
    packets: list[ListedPacket] = []
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("#"):
            head, _, value = line[1:].partition(":")
            name, _, index = head.rpartition(" ")
            if not index.isdigit():
                continue
            i, value = int(index), value.strip()
            if name == "tb" and "/" in value:
                num, den = value.split("/", 1)
                base[i] = int(num) / int(den) if den.strip("0") else 0.0
            elif name == "media_type":
                kinds[i] = value
            elif name == "codec_id":
                codecs[i] = value
            elif name == "dimensions" and "x" in value:
                w, h = value.split("x", 1)
                dims[i] = (int(w), int(h))
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 6 or not fields[0].isdigit():
            continue
        i = int(fields[0])
        tb = base.get(i, 0.0)
        flags = next((int(f[2:], 16) for f in fields[6:] if f.startswith("F=")), 1)
        pts_raw = int(fields[2])
        pts = None if pts_raw == _NOPTS else pts_raw * tb
        packets.append(ListedPacket(i, pts, int(fields[3]) * tb, bool(flags & 1)))
    streams: dict[int, ListedStream] = {}
    for i, kind in kinds.items():
        width, height = dims.get(i, (None, None))
        streams[i] = ListedStream(kind, codecs.get(i), width, height)
    return facts_from_listing(
        streams, packets, problems, stderr=stderr, returncode=returncode, size=size, sha256=sha256
    )
