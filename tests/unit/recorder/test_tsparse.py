"""The in-process MPEG-TS parser against FFmpeg: real files, same facts field by field.

Every file here is made by the static ffmpeg (imageio-ffmpeg) and probed three ways:
``tool="python"`` (archive.recorder.tsparse), ``tool="ffmpeg"`` (framecrc) and Debian's ffprobe 5.1
(the oracle in tests/fixtures/ffprobe_oracle.py). Documented tolerances only: ``duration`` within one frame (openh264
gives 2.0 s from framecrc, 1.96 s from ffprobe 5.1), ``max_video_gap`` within 2 us (ffprobe's
6-decimal text), and ``audio_packets`` (PES packets, not frames: only "none" vs "some" must
agree). ``complete`` differs on purpose for damage FFmpeg does not report (flipped sync byte,
transport_error_indicator, a bounded PES cut at the end) and for a segment starting without
SPS/PPS (FFmpeg's decoder complains); those cases assert the difference itself.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.recorder import nalu
from archive.recorder.ffmpeg import find_ffmpeg
from archive.recorder.probe import ProbedSegment, probe_segment
from archive.recorder.tsparse import TS, TsParser, TsSummary, _span
from tests.fixtures.ffprobe_oracle import ffprobe_segment

EXACT = ("size", "sha256", "video_codec", "width", "height", "starts_with_keyframe", "audio_codec",
         "video_packets", "data_streams", "readable")  # fmt: skip
SRC = "testsrc2=size={size}:rate={fps}"


def ffmpeg(*args: str) -> None:
    cmd = [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def encode(path: Path, *, size: str = "320x240", fps: int = 25, seconds: float = 2.0, video: tuple[str, ...] = (),
           audio: tuple[str, ...] = (), rate: int = 48000, out: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """A real MPEG-TS file: testsrc2 video (libx264 ultrafast unless ``video`` says otherwise)."""
    args = ["-f", "lavfi", "-i", SRC.format(size=size, fps=fps)]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}"]
    args += ["-t", f"{seconds:g}", *(video or ("-c:v", "libx264", "-preset", "ultrafast", "-g", "25"))]
    args += [*(("-c:a", *audio) if audio else ()), *out, "-f", "mpegts", str(path)]
    ffmpeg(*args)
    return path


def packets(data: bytes) -> Iterator[tuple[int, int, bool]]:
    """(offset, PID, payload_unit_start_indicator) of every TS packet (test helper, slow is fine)."""
    for o in range(0, len(data) - TS + 1, TS):
        yield o, (data[o + 1] & 0x1F) << 8 | data[o + 2], bool(data[o + 1] & 0x40)


def drop_first_access_unit(src: Path, dest: Path) -> Path:
    """``src`` without the video packets of its first PES: it starts on a non-IDR frame."""
    data, out, starts = src.read_bytes(), [], 0
    for o, pid, pusi in packets(data):
        if pid == 0x100:
            starts += pusi
            if starts < 2:
                continue
        out.append(data[o : o + TS])
    dest.write_bytes(b"".join(out))
    return dest


def _h264_aac(d: Path) -> Path:
    return encode(d / "h264_aac.ts", size="1280x720", audio=("aac", "-b:a", "64k"))


def _reschange(d: Path) -> Path:
    a = encode(d / "p360.ts", size="640x360", seconds=1)
    b = encode(d / "p720.ts", size="1280x720", seconds=1, out=("-output_ts_offset", "1"))
    ffmpeg("-i", f"concat:{a}|{b}", "-c", "copy", "-f", "mpegts", str(d / "reschange.ts"))
    return d / "reschange.ts"


def _g711(d: Path) -> Path:
    mkv = encode(d / "g711.mkv", audio=("pcm_alaw",), rate=8000, out=("-f", "matroska"))
    ffmpeg("-i", str(mkv), "-map", "0", "-c", "copy", "-f", "mpegts", str(d / "g711.ts"))
    return d / "g711.ts"


X265 = ("-c:v", "libx265", "-preset", "ultrafast", "-x265-params")
MAKERS: dict[str, Callable[[Path], Path]] = {
    "h264_aac": _h264_aac,
    "h264_bframes": lambda d: encode(d / "bf.ts", size="1280x720", video=(
        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "50")),
    "h264_high_crop": lambda d: encode(d / "high.ts", size="1278x718", video=(
        "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high")),
    "h264_422_crop": lambda d: encode(d / "422.ts", size="638x358", video=(
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv422p")),
    "h264_444_odd": lambda d: encode(d / "444.ts", size="640x360", video=(  # testsrc2 sizes are even
        "-vf", "scale=637:359,format=yuv444p", "-c:v", "libx264", "-preset", "ultrafast")),
    "h264_interlaced": lambda d: encode(d / "tff.ts", size="640x360", video=(
        "-c:v", "libx264", "-preset", "ultrafast", "-flags", "+ildct+ilme", "-x264-params", "interlaced=1")),
    "openh264_crop": lambda d: encode(d / "oh.ts", size="636x356", video=("-c:v", "libopenh264")),
    "hevc_crop": lambda d: encode(d / "hevc.ts", size="1278x718", video=(*X265, "log-level=error")),
    "hevc_bframes_sublayers": lambda d: encode(d / "hevc_tl.ts", size="1278x718", fps=30, video=(
        *X265, "log-level=error:temporal-layers=3:bframes=3")),
    "hevc_422_crop": lambda d: encode(d / "hevc422.ts", size="640x360", video=(
        "-vf", "scale=638:358,format=yuv422p", *X265, "log-level=error")),
    "g711_alaw_copy": _g711,
    "mp2_48k": lambda d: encode(d / "mp2.ts", audio=("mp2",)),
    "mp3_16k": lambda d: encode(d / "mp3.ts", audio=("libmp3lame",), rate=16000),
    "opus": lambda d: encode(d / "opus.ts", audio=("libopus",)),
    "ac3": lambda d: encode(d / "ac3.ts", audio=("ac3",)),
    "resolution_change": _reschange,
    "pts_wrap": lambda d: encode(d / "wrap.ts", seconds=3, out=("-output_ts_offset", "95442")),
    "non_key_start": lambda d: drop_first_access_unit(_h264_aac(d), d / "nokey.ts"),
}  # fmt: skip


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``corpus(name)``: the file ``MAKERS[name]`` makes, made once per session."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = MAKERS[name](tmp_path_factory.mktemp(name))
        return made[name]

    return get


def probe_all(path: Path) -> tuple[ProbedSegment, ProbedSegment, ProbedSegment]:
    """The facts from the parser, from framecrc and from ffprobe."""
    return (probe_segment(path, tool="python"), probe_segment(path, tool="ffmpeg"), ffprobe_segment(path))


def assert_same(py: ProbedSegment, ref: ProbedSegment, *, frame: float, complete: bool = True) -> None:
    for field in EXACT:
        assert getattr(py, field) == getattr(ref, field), field
    assert abs(py.duration - ref.duration) <= frame + 1e-6, (py.duration, ref.duration)
    assert py.max_video_gap == pytest.approx(ref.max_video_gap, abs=2e-6)
    assert (py.audio_packets > 0) == (ref.audio_packets > 0) and py.audio_packets <= ref.audio_packets
    if complete:
        assert py.complete == ref.complete


EXPECTED = {  # name: (video_codec, width, height, starts_with_keyframe, audio_codec, data_streams)
    "h264_aac": ("h264", 1280, 720, True, "aac", 0),
    "h264_bframes": ("h264", 1280, 720, True, None, 0),
    "h264_high_crop": ("h264", 1278, 718, True, None, 0),
    "h264_422_crop": ("h264", 638, 358, True, None, 0),
    "h264_444_odd": ("h264", 637, 359, True, None, 0),
    "h264_interlaced": ("h264", 640, 360, True, None, 0),
    "openh264_crop": ("h264", 636, 356, True, None, 0),
    "hevc_crop": ("hevc", 1278, 718, True, None, 0),
    "hevc_bframes_sublayers": ("hevc", 1278, 718, True, None, 0),
    "hevc_422_crop": ("hevc", 638, 358, True, None, 0),  # conformance window in rows, not row pairs
    "g711_alaw_copy": ("h264", 320, 240, True, None, 1),  # FFmpeg too: a bin_data stream, no audio
    "mp2_48k": ("h264", 320, 240, True, "mp2", 0),  # stream_type 0x03
    "mp3_16k": ("h264", 320, 240, True, "mp3", 0),  # stream_type 0x04
    "opus": ("h264", 320, 240, True, "opus", 0),
    "ac3": ("h264", 320, 240, True, "ac3", 0),
    "resolution_change": ("h264", 640, 360, True, None, 0),  # the first SPS, like ffprobe
    "pts_wrap": ("h264", 320, 240, True, None, 0),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_same_facts_as_framecrc_and_ffprobe(corpus: Callable[[str], Path], name: str) -> None:
    path = corpus(name)
    py, framecrc, ffprobe = probe_all(path)
    fps = 30 if "sublayers" in name else 25
    assert_same(py, framecrc, frame=1 / fps)
    assert_same(py, ffprobe, frame=1 / fps)
    got = (py.video_codec, py.width, py.height, py.starts_with_keyframe, py.audio_codec, py.data_streams)
    assert got == EXPECTED[name]
    assert py.readable and py.complete and py.problems == ()
    assert py.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and py.size == path.stat().st_size


def test_pts_wraparound_gives_the_true_duration(corpus: Callable[[str], Path]) -> None:
    path = corpus("pts_wrap")
    parser = TsParser()
    parser.feed(path.read_bytes())
    fields = [pts for stream in parser._streams.values() for pts in stream.pts]
    values = [int.from_bytes(field, "big") >> 33 & 7 for field in fields]
    assert values[0] == 7 and 0 in values  # the file really wraps: PTS bits 32..30 go 111 -> 000
    facts = probe_segment(path, tool="python")
    assert facts.duration == pytest.approx(3.0) and facts.max_video_gap == pytest.approx(0.04)
    assert _span([2**33 - 3600, 2**33 - 7200, 0, 3600]) == (round(4 * 3600 / 90000, 6), 0.04)


def test_a_non_keyframe_start(corpus: Callable[[str], Path]) -> None:
    py, framecrc, ffprobe = probe_all(corpus("non_key_start"))
    for ref in (framecrc, ffprobe):
        assert_same(py, ref, frame=0.04, complete=False)
        assert not ref.complete and any("PPS" in p for p in ref.problems)  # FFmpeg's decoder complains
    assert not py.starts_with_keyframe and (py.width, py.height) == (1280, 720)  # SPS of the 2nd GOP
    assert py.readable and py.complete and py.problems == ()


def damaged(src: Path, dest: Path, how: str) -> Path:
    data = bytearray(src.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2 + 77]
    elif how == "sync":
        data[TS * 300] = 0x46
    elif how == "tei":
        data[TS * 301 + 1] |= 0x80
    elif how == "audio_cut":  # end right after the first packet of the last audio PES
        last = max(o for o, pid, pusi in packets(bytes(data)) if pid == 0x101 and pusi)
        data = data[: last + TS]
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.parametrize(
    ("how", "problem", "ffmpeg_complete"),
    [
        ("truncated", "truncated", False),
        ("sync", "sync byte 0x47", None),  # FFmpeg notices only if its decoder needed the packet
        ("tei", "transport_error_indicator", True),
        ("audio_cut", "the last PES of PID 257 is cut short", True),
    ],
)
def test_damage_is_found(
    corpus: Callable[[str], Path], tmp_path: Path, how: str, problem: str, ffmpeg_complete: bool | None
) -> None:
    path = damaged(corpus("h264_aac"), tmp_path / f"{how}.ts", how)
    py, framecrc, ffprobe = probe_all(path)
    for ref in (framecrc, ffprobe):
        assert_same(py, ref, frame=0.04, complete=False)
        assert ffmpeg_complete is None or ref.complete is ffmpeg_complete
    assert py.readable and not py.complete
    assert any(problem in p for p in py.problems), py.problems
    if how == "audio_cut":  # the exact count: PES_packet_length + 6 - the payload in the one packet kept
        o = path.stat().st_size - TS
        p = o + 4 + (1 + path.read_bytes()[o + 4] if path.read_bytes()[o + 3] & 0x20 else 0)
        head = path.read_bytes()[p : p + 6]
        assert f"({(head[4] << 8 | head[5]) + 6 - (o + TS - p)} bytes missing" in py.problems[0]


def test_garbage_empty_and_no_video(tmp_path: Path, corpus: Callable[[str], Path]) -> None:
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"\x47" + bytes(range(256)) * 40)
    empty = tmp_path / "empty.ts"
    empty.write_bytes(b"")
    audio_only = tmp_path / "audio.ts"
    ffmpeg("-i", str(corpus("h264_aac")), "-map", "0:a", "-c", "copy", "-f", "mpegts", str(audio_only))
    for path in (junk, empty, audio_only):
        py, framecrc, ffprobe = probe_all(path)
        for ref in (framecrc, ffprobe):
            for field in ("size", "sha256", "video_codec", "video_packets", "readable", "complete"):
                assert getattr(py, field) == getattr(ref, field), (path.name, field)
        assert "no video packets" in py.problems and not py.readable
    assert probe_segment(audio_only, tool="python").audio_codec == "aac"


def ts_packet(pid: int, payload: bytes, *, start: bool = False) -> bytes:
    """One TS packet (ISO/IEC 13818-1 2.4.3.2), padded with adaptation-field stuffing (2.4.3.5)."""
    room = 184 - len(payload)
    field = b"" if room == 0 else b"\x00" if room == 1 else bytes([room - 1, 0]) + b"\xff" * (room - 2)
    return bytes([0x47, 0x40 * start | pid >> 8, pid & 0xFF, 0x30 if room else 0x10]) + field + payload


def section(table_id: int, body: bytes) -> bytes:
    """pointer_field + a PSI section with a dummy CRC_32 (the parser does not check it)."""
    length = 5 + len(body) + 4
    return bytes([0, table_id, 0xB0 | length >> 8, length & 0xFF, 0, 1, 0xC1, 0, 0]) + body + b"\0\0\0\0"


def pes(stream_id: int, pts: int, payload: bytes) -> bytes:
    """A PES packet with a PTS (2.4.3.6), unbounded like FFmpeg's video PES."""
    field = bytes([0x21 | (pts >> 29 & 0x0E), pts >> 22 & 0xFF, (pts >> 14 & 0xFE) | 1, pts >> 7 & 0xFF,
                   (pts << 1 & 0xFE) | 1])  # fmt: skip
    return b"\x00\x00\x01" + bytes([stream_id, 0, 0, 0x80, 0x80, 5]) + field + payload


def test_a_hand_made_stream_with_a_network_pid_first_in_the_pat() -> None:
    pat = section(0, b"\x00\x00\xe0\x10" + b"\x00\x01\xf0\x00")  # program 0 -> NIT 0x10, 1 -> PMT 0x1000
    pmt = section(2, b"\xe1\x00\xf0\x00" + b"\x1b\xe1\x00\xf0\x00" + b"\x0f\xe1\x01\xf0\x00")
    sps = b"\x00\x00\x01\x67" + h264_sps(profile=66, mbs=(40, 23), crop=(0, 0, 0, 4))
    au = b"\x00\x00\x00\x01\x09\xf0" + sps + b"\x00\x00\x01\x65\x88\x84" + b"\x5a" * 300
    idr = pes(0xE0, 2**33 - 1800, au)
    data = ts_packet(0, pat, start=True) + ts_packet(0x1000, pmt, start=True)
    data += ts_packet(0x100, idr[:184], start=True) + ts_packet(0x100, idr[184:368]) + ts_packet(0x100, idr[368:])
    data += ts_packet(0x100, pes(0xE0, 1800, b"\x00\x00\x01\x41\x9a" + b"\x5a" * 20), start=True)
    parser = TsParser()
    parser.feed(data)
    assert parser.finish() == TsSummary(
        psi=True, video_codec="h264", width=640, height=360, starts_with_keyframe=True, audio_codec="aac",
        video_packets=2, audio_packets=0, data_streams=0, duration=0.08, max_video_gap=0.04, problems=(),
    )  # fmt: skip
    tiny = TsParser()  # a 4-byte "PMT" section ending the packet that ends the chunk: ignored, no IndexError
    tiny.feed(ts_packet(0, pat, start=True) + ts_packet(0x1000, b"\x05" + b"\xff" * 5 + b"\x02\xb0\x04", start=True))
    assert not tiny.finish().psi
    frames = b"\xff\xf1" + b"\x00" * 600  # an AAC PES cut after its second packet (which is not full)
    audio = pes(0xC0, 0, frames)
    audio = audio[:4] + (len(audio) - 6).to_bytes(2, "big") + audio[6:]  # bounded: PES_packet_length
    parser = TsParser()
    parser.feed(data + ts_packet(0x101, audio[:184], start=True) + ts_packet(0x101, audio[184:284]))
    summary = parser.finish()
    assert summary.audio_packets == 1
    assert summary.problems == (f"the last PES of PID 257 is cut short ({len(audio) - 284} bytes missing at the end)",)


def feed_in_chunks(data: bytes, sizes: Iterator[int]) -> TsSummary:
    parser, at = TsParser(), 0
    while at < len(data):
        step = next(sizes)
        parser.feed(data[at : at + step])
        at += step
    return parser.finish()


@pytest.mark.parametrize("name", ["h264_aac", "hevc_bframes_sublayers", "resolution_change", "non_key_start"])
def test_chunk_boundaries_do_not_matter(corpus: Callable[[str], Path], tmp_path: Path, name: str) -> None:
    data = corpus(name).read_bytes()
    whole = feed_in_chunks(data, iter(lambda: len(data), 0))
    rng = random.Random(name)
    for _ in range(2):
        assert feed_in_chunks(data, iter(lambda: rng.randint(1, 5000), 0)) == whole
    cut = damaged(corpus("h264_aac"), tmp_path / "cut.ts", "audio_cut").read_bytes()[:-100]
    assert feed_in_chunks(cut, iter(lambda: rng.randint(1, 5000), 0)) == feed_in_chunks(cut, iter(lambda: 10**9, 0))


def test_damaged_headers_never_raise(corpus: Callable[[str], Path]) -> None:
    """Random bytes in the PSI and first PES headers, any chunk split: facts, never an exception."""
    base = corpus("h264_aac").read_bytes()[: TS * 60]
    rng = random.Random(3)
    for _ in range(1500):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(8) * TS + rng.randrange(1, TS)] = rng.randrange(256)
        parser, cut = TsParser(), rng.randrange(len(data))
        parser.feed(bytes(data[:cut]))
        parser.feed(bytes(data[cut:]))
        assert isinstance(parser.finish(), TsSummary)


def test_other_video_codecs_fall_back_to_framecrc(tmp_path: Path) -> None:
    path = encode(tmp_path / "m2v.ts", video=("-c:v", "mpeg2video"))
    py, framecrc, _ = probe_all(path)
    assert py == framecrc and (py.video_codec, py.width) == ("mpeg2video", 320)


# ---------------------------------------------------------------------------------------------
# SPS syntax the encoders above do not write (scaling lists, pic_order_cnt_type 1, H.265
# sub-layer profile/level), written bit by bit; FFmpeg's own SPS reader (trace_headers) must read
# the same values back, which checks the writer, so the parser is checked against the spec.


class Bits:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, v: int) -> Bits:
        self.bits += [(v >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def ue(self, v: int) -> Bits:
        n = (v + 1).bit_length()
        return self.u(n - 1, 0).u(n, v + 1)

    def se(self, v: int) -> Bits:
        return self.ue(2 * v - 1 if v > 0 else -2 * v)

    def rbsp(self) -> bytes:
        bits = [*self.bits, 1]
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes (H.264 7.4.1)."""
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def h264_sps(*, profile: int = 100, chroma: int = 1, lists: tuple[int, ...] = (), poc: int = 0, mbs: tuple[int, int],
             frame_mbs_only: int = 1, crop: tuple[int, int, int, int] | None = None) -> bytes:  # fmt: skip
    w = Bits().u(8, profile).u(8, 0).u(8, 40).ue(0)
    if profile in (100, 110, 122, 244):
        w.ue(chroma)
        if chroma == 3:
            w.u(1, 0)
        w.ue(0).ue(0).u(1, 0).u(1, bool(lists))
        if lists:
            for i in range(8 if chroma != 3 else 12):
                w.u(1, i in lists)
                for k in range((16 if i < 6 else 64) if i in lists else 0):
                    w.se(3 if k % 2 else -2)  # never reaches next_scale 0
    w.ue(0).ue(poc)
    if poc == 0:
        w.ue(2)
    elif poc == 1:
        w.u(1, 0).se(-3).se(5).ue(2).se(1).se(-7)
    w.ue(3).u(1, 0).ue(mbs[0] - 1).ue(mbs[1] - 1).u(1, frame_mbs_only)
    if not frame_mbs_only:
        w.u(1, 1)
    w.u(1, 1).u(1, crop is not None)
    for value in crop or ():
        w.ue(value)
    return escape(w.u(1, 0).rbsp())


def profile_tier_level(w: Bits, sub_layers: int) -> Bits:
    """H.265 7.3.3 with sub-layer profiles on odd sub-layers and levels on all."""

    def profile() -> None:  # space, tier, Main, compatibility, 4 flags, 43 + 1 reserved bits
        w.u(2, 0).u(1, 0).u(5, 1).u(32, 0x60000000).u(4, 0b1001).u(43, 0).u(1, 0)

    profile()
    w.u(8, 93)  # general_level_idc
    flags = [(i % 2, 1) for i in range(sub_layers - 1)]
    for profile_present, level_present in flags:
        w.u(1, profile_present).u(1, level_present)
    if sub_layers > 1:
        w.u(2 * (9 - sub_layers), 0)
    for profile_present, level_present in flags:
        if profile_present:
            profile()
        if level_present:
            w.u(8, 90)
    return w


def hevc_vps(*, sub_layers: int) -> bytes:
    """A video parameter set (H.265 7.3.2.1), needed before FFmpeg reads an SPS."""
    w = profile_tier_level(Bits().u(4, 0).u(1, 1).u(1, 1).u(6, 0).u(3, sub_layers - 1).u(1, 1).u(16, 0xFFFF),
                           sub_layers).u(1, 0)  # fmt: skip
    w.ue(4).ue(0).ue(0).u(6, 0).ue(0).u(1, 0).u(1, 0)
    return escape(w.rbsp())


def hevc_sps(*, sub_layers: int, size: tuple[int, int], window: tuple[int, int, int, int] | None) -> bytes:
    """The start of an H.265 SPS (7.3.2.2.1), up to the conformance window and bit depths."""
    w = profile_tier_level(Bits().u(4, 0).u(3, sub_layers - 1).u(1, 1), sub_layers)
    w.ue(0).ue(1).ue(size[0]).ue(size[1]).u(1, window is not None)
    for value in window or ():
        w.ue(value)
    w.ue(0).ue(0).ue(4)  # bit depths, log2_max_pic_order_cnt_lsb_minus4
    return escape(w.rbsp())


def trace(codec: str, nal: bytes) -> str:
    """FFmpeg's reading of parameter-set NAL units (``-bsf:v trace_headers``)."""
    cmd = [find_ffmpeg(), "-hide_banner", "-f", codec, "-i", "pipe:0", "-c", "copy", "-bsf:v", "trace_headers",
           "-f", "null", "-"]  # fmt: skip
    return subprocess.run(cmd, input=nal, capture_output=True, timeout=60).stderr.decode()


def traced(text: str, name: str) -> int:
    return int(next(line for line in text.splitlines() if f" {name} " in line).rsplit("=", 1)[1])


def test_h264_sps_with_scaling_lists_and_poc_type_1_matches_ffmpeg() -> None:
    nal = b"\x67" + h264_sps(lists=(0, 6), poc=1, mbs=(80, 23), frame_mbs_only=0, crop=(1, 3, 0, 2))
    text = trace("h264", b"\x00\x00\x00\x01" + nal)
    assert traced(text, "seq_scaling_list_present_flag[6]") == 1 and traced(text, "offset_for_ref_frame[1]") == -7
    assert traced(text, "pic_width_in_mbs_minus1") == 79 and traced(text, "frame_crop_bottom_offset") == 2
    head = nalu.scan_head("h264", b"\x00\x00\x01" + nal + b"\x00\x00\x01\x65\x88", final=False)
    assert head == nalu.Head(5, True, (80 * 16 - 2 * 4, 2 * 23 * 16 - 4 * 2))


def test_hevc_sps_with_sub_layer_profiles_matches_ffmpeg() -> None:
    nal = b"\x42\x01" + hevc_sps(sub_layers=4, size=(1920, 1088), window=(0, 3, 0, 4))
    vps = b"\x00\x00\x00\x01\x40\x01" + hevc_vps(sub_layers=4)
    text = trace("hevc", vps + b"\x00\x00\x00\x01" + nal)
    assert traced(text, "sub_layer_profile_present_flag[1]") == 1
    assert traced(text, "pic_height_in_luma_samples") == 1088 and traced(text, "conf_win_bottom_offset") == 4
    assert nalu.hevc_sps_size(nalu.unescape(nal[2:])) == (1920 - 6, 1088 - 8)


@settings(max_examples=150, deadline=None)
@given(
    profile=st.sampled_from([66, 77, 100, 110, 122, 244]),
    chroma=st.integers(0, 3),
    lists=st.sets(st.integers(0, 11), max_size=4),
    poc=st.integers(0, 2),
    mbs=st.tuples(st.integers(1, 300), st.integers(1, 200)),
    frame_mbs_only=st.integers(0, 1),
    crop=st.none() | st.tuples(*[st.integers(0, 3)] * 4),
)
def test_h264_sps_sizes(
    profile: int,
    chroma: int,
    lists: set[int],
    poc: int,
    mbs: tuple[int, int],
    frame_mbs_only: int,
    crop: tuple[int, int, int, int] | None,
) -> None:
    high = profile >= 100
    chroma = chroma if high else 1
    lists_t = tuple(i for i in sorted(lists) if high and i < (8 if chroma != 3 else 12))
    nal = h264_sps(profile=profile, chroma=chroma, lists=lists_t, poc=poc, mbs=mbs, frame_mbs_only=frame_mbs_only,
                   crop=crop)  # fmt: skip
    width, height = mbs[0] * 16, mbs[1] * 16 * (2 - frame_mbs_only)
    if crop:
        unit_x, unit_y = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma]
        width -= unit_x * (crop[0] + crop[1])
        height -= unit_y * (2 - frame_mbs_only) * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        with pytest.raises(ValueError):
            nalu.h264_sps_size(nalu.unescape(nal))
    else:
        assert nalu.h264_sps_size(nalu.unescape(nal)) == (width, height)
    with pytest.raises(ValueError):
        nalu.h264_sps_size(nalu.unescape(nal)[:4])  # cut short: every SPS has more than 32 bits


def test_recovery_point_sei_makes_a_keyframe_like_ffmpegs_parser() -> None:
    sps = b"\x00\x00\x01\x67" + h264_sps(profile=77, mbs=(20, 15))
    sei = b"\x00\x00\x01\x06" + bytes([5, 3, 1, 2, 3]) + bytes([6, 1, 0x84]) + b"\x80"  # user data, recovery point
    p_slice = b"\x00\x00\x01\x41\x9a"
    assert nalu.scan_head("h264", sps + sei + p_slice, final=False) == nalu.Head(1, True, (320, 240))
    assert nalu.scan_head("h264", sps + p_slice, final=False) == nalu.Head(1, False, (320, 240))
    assert nalu.scan_head("h264", sps + sei, final=False) is None
    assert nalu.scan_head("hevc", b"\x00\x00\x01\x26\x01\xaf", final=False) == nalu.Head(19, True, None)  # IDR_W_RADL
    assert nalu.scan_head("hevc", b"\x00\x00\x01\x02\x01\xd0", final=False) == nalu.Head(1, False, None)  # TRAIL_R
