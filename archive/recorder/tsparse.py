"""An incremental MPEG-TS reader for finished segments: media facts at C speed, no subprocess.

:class:`TsParser` is fed the file chunk by chunk (any sizes; a partial 188-byte packet is carried
to the next chunk) and :meth:`TsParser.finish` returns :class:`TsSummary`. It never loops in
Python over every transport packet: per chunk it checks all sync bytes with one slice
(``data[0::188]``), finds the packets that start a PES or section by translating the slice of
second header bytes (``data[1::188]``, payload_unit_start_indicator and the PID's high bits) and
``bytes.find``, and parses only those (28 per second for 25 fps video with AAC; once the PMT
is known, repeated PAT/PMT/SDT are skipped in C when their PID's high bits differ from the
streams', as with FFmpeg's PIDs 0x100 and up), plus the few follow-on
packets of the first access unit(s) until the first SPS and of a bounded PES open at a chunk's
end. Cost: about 1 ms of CPU for a 10 s, 2.7 MB segment, beside ~3 ms for SHA-256.

What it reads (ISO/IEC 13818-1): the first PAT and PMT, each PES header's PTS and
PES_packet_length (DTS is not needed); from the video elementary stream, only the NAL units
before the first slice of an access unit (see :mod:`archive.recorder.nalu`).

Limits, all irrelevant for FFmpeg's muxer (which writes every file this recorder keeps): PSI is
read from its first single-packet section (CRC not checked, later versions ignored); a PES
header must fit in its first packet; one PES is one access unit (FFmpeg re-frames with its
parser, so a PES holding only parameter sets would count as a packet here but not there);
packets sit on the 188-byte grid from offset 0 (no resync: a file misaligned from the start is
unreadable here, FFmpeg would resync).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Final

from archive.recorder.nalu import Codec, Head, scan_head

TS: Final = 188
WRAP: Final = 1 << 33  # PTS/DTS are 33-bit counters of a 90 kHz clock (2.4.3.7)
CLOCK: Final = 90_000.0
_HEAD_MAX: Final = 1 << 16  # stop looking for the first slice after this many bytes of a PES
# 2.4.3.7: stream_ids whose PES has no optional header (no PTS): program_stream_map, padding,
# private_stream_2, ECM, EMM, DSMCC, H.222.1 type E, directory.
_NO_HEADER: Final = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})
# 2.4.4.9 Table 2-34 stream_type -> (kind, FFmpeg codec name). 0x03/0x04 are MPEG audio of any
# layer (FFmpeg's muxer picks by sample rate); the layer in the first frame header decides.
_STREAM_TYPES: Final[dict[int, tuple[str, str]]] = {
    0x01: ("video", "mpeg2video"), 0x02: ("video", "mpeg2video"), 0x10: ("video", "mpeg4"),
    0x1B: ("video", "h264"), 0x24: ("video", "hevc"), 0x03: ("audio", "mp3"), 0x04: ("audio", "mp3"),
    0x0F: ("audio", "aac"), 0x11: ("audio", "aac_latm"), 0x1C: ("audio", "aac"), 0x81: ("audio", "ac3"),
    0x87: ("audio", "eac3"),
}  # fmt: skip
# Registration descriptor (tag 0x05) format_identifier, and DVB descriptors 0x6A/0x7A (EN 300 468).
_REGISTERED: Final = {b"Opus": ("audio", "opus"), b"AC-3": ("audio", "ac3"), b"EAC3": ("audio", "eac3"),
                      b"HEVC": ("video", "hevc")}  # fmt: skip
_DVB: Final = {0x6A: ("audio", "ac3"), 0x7A: ("audio", "eac3")}
_MPEG_LAYER: Final = {1: "mp3", 2: "mp2", 3: "mp1"}  # ISO/IEC 11172-3 2.4.2.3 layer field


def _pusi_table(high: frozenset[int] | None) -> bytes:
    """``bytes.translate`` table for TS header byte 1 (2.4.3.2): 1 where payload_unit_start_indicator
    is set and the PID's top 5 bits are in ``high`` (None: any PID), else 0."""
    return bytes(1 if b & 0x40 and (high is None or b & 0x1F in high) else 0 for b in range(256))


_ALL_STARTS: Final = _pusi_table(None)


def _payload(data: bytes, o: int) -> int:
    """Offset of the payload of the packet at ``o``, or -1 when it has none.

    2.4.3.2 adaptation_field_control: 01 payload only, 10 adaptation field only, 11 both;
    2.4.3.5: the adaptation field is its length byte plus that many bytes.
    """
    control = data[o + 3] >> 4 & 3
    if control == 1:
        return o + 4
    if control == 3:
        start = o + 5 + data[o + 4]
        return start if start < o + TS else -1
    return -1


def _pts(field: bytes) -> int:
    """The 33-bit value of a 5-byte PTS/DTS field (2.4.3.6: '001x', 3 bits, marker, 15, marker, 15, marker)."""
    v = int.from_bytes(field, "big")
    return (v >> 3 & 0x1C0000000) | (v >> 2 & 0x3FFF8000) | (v >> 1 & 0x7FFF)


class _Stream:
    """One elementary stream of the PMT and what has been seen of it so far."""

    __slots__ = ("codec", "kind", "pes", "pid", "pts")

    def __init__(self, pid: int, kind: str, codec: str | None) -> None:
        self.pid, self.kind, self.codec = pid, kind, codec
        self.pes = 0
        self.pts: list[bytes] = []  # the 5 PTS bytes of each PES that has one, decoded in finish


@dataclass(frozen=True)
class TsSummary:
    """What :meth:`TsParser.finish` found; :func:`archive.recorder.probe.facts_from_ts` builds
    :class:`~archive.recorder.probe.SegmentFacts` from it.

    ``video_packets``/``audio_packets`` count PES packets (FFmpeg's muxer writes one video access
    unit per PES, but may pack several audio frames into one). ``duration`` and
    ``max_video_gap`` are in seconds from the unwrapped video PTS (all PES when there is no
    video). ``problems`` are integrity problems only (damaged or cut-short bytes); ``notes`` are
    other findings (an unreadable SPS).
    """

    psi: bool
    video_codec: str | None
    width: int | None
    height: int | None
    starts_with_keyframe: bool
    audio_codec: str | None
    video_packets: int
    audio_packets: int
    data_streams: int
    duration: float
    max_video_gap: float
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()


class TsParser:
    """Feed a transport stream with :meth:`feed`, then call :meth:`finish` once."""

    def __init__(self) -> None:
        self._rest = b""
        self._size = self._bad_sync = self._tei = 0
        self._pmt_pid: int | None = None
        self._streams: dict[int, _Stream] = {}  # PID -> stream, in PMT order
        self._table = _ALL_STARTS
        self._first_video: _Stream | None = None  # its SPS gives the picture size
        self._key: bool | None = None  # first video access unit holds a random-access picture
        self._size_wh: tuple[int, int] | None = None
        self._sps_done = False
        self._look = True  # some PES start must still be looked into (see _first_bytes)
        self._heads: dict[int, bytearray] = {}  # PID -> first bytes of an access unit being read
        self._open: dict[int, int] = {}  # PID -> bytes still missing from its last bounded PES
        self._notes: list[str] = []

    def feed(self, chunk: bytes) -> None:
        """Parse the next bytes of the file. Never raises on malformed input."""
        self._size += len(chunk)
        data = self._rest + chunk if self._rest else chunk
        whole = len(data) - len(data) % TS
        self._rest = data[whole:]
        if whole:
            self._packets(data[:whole] if whole < len(data) else data, whole // TS)

    def _packets(self, data: bytes, n: int) -> None:
        """Handle ``n`` whole packets (2.4.3.2: sync_byte 0x47, TEI, PUSI, 13-bit PID)."""
        sync = data[0::TS]
        bad: set[int] = set()
        if sync.count(0x47) != n:
            bad = {i for i, b in enumerate(sync) if b != 0x47}
            self._bad_sync += len(bad)
        second = data[1::TS]
        if not second.isascii():  # some transport_error_indicator (bit 0x80) is set
            self._tei += sum(1 for i, b in enumerate(second) if b & 0x80 and i not in bad)
        lo = data[2::TS]
        for pid in list(self._heads):  # access units still being read from the last chunk
            self._head_more(data, lo, pid, 0)
        streams, opened, at = self._streams, self._open, dict.fromkeys(self._open, -1)
        table = self._table
        starts = second.translate(table)
        i = starts.find(1)
        while i >= 0:
            o = i * TS
            pid = (data[o + 1] & 0x1F) << 8 | data[o + 2]
            stream = streams.get(pid)
            if bad and i in bad:
                pass
            elif stream is not None:  # a PES starts (and ends this PID's previous one)
                end = o + TS  # the PES header (2.4.3.6, 2.4.3.7), inlined: this runs for every PES
                control = data[o + 3] & 0x30  # adaptation_field_control, see _payload
                p = o + 4 if control == 0x10 else o + 5 + data[o + 4] if control == 0x30 else end
                left = 0
                if p + 9 <= end and data[p : p + 3] == b"\x00\x00\x01":  # else FFmpeg skips it too
                    stream.pes += 1
                    if data[p + 7] & 0x80 and p + 14 <= end and data[p + 3] not in _NO_HEADER:
                        stream.pts.append(data[p + 9 : p + 14])  # PTS_DTS_flags '1x': the PTS
                    if self._look:
                        self._first_bytes(data, stream, i, lo, p, end)
                    length = data[p + 4] << 8 | data[p + 5]  # PES_packet_length, 0: unbounded
                    left = length + 6 - (end - p) if length else 0
                if left or pid in opened:
                    opened[pid], at[pid] = left, i
            elif pid == 0 or pid == self._pmt_pid:
                self._psi(data, o, pid)
                if self._table is not table:  # PMT read: from now on only its streams' starts
                    table = self._table
                    starts = second.translate(table)
            i = starts.find(1, i + 1)
        for pid, after in at.items():
            if opened[pid] > 0:
                self._count_rest(data, lo, pid, after + 1)

    def _next(self, data: bytes, lo: bytes, pid: int, j: int) -> int:
        """Index of the next packet of ``pid`` at or after ``j`` in this chunk, -1 if none."""
        low, high = pid & 0xFF, pid >> 8
        while (j := lo.find(low, j)) >= 0:
            o = j * TS
            if data[o + 1] & 0x1F == high and data[o] == 0x47:
                return j
            j += 1
        return -1

    def _count_rest(self, data: bytes, lo: bytes, pid: int, j: int) -> None:
        """Subtract the payload of ``pid``'s packets from ``j`` on from its open bounded PES."""
        left = self._open[pid]
        while left > 0 and (j := self._next(data, lo, pid, j)) >= 0:
            o = j * TS
            p = _payload(data, o)
            if p >= 0:
                left -= o + TS - p
            j += 1
        self._open[pid] = left

    def _psi(self, data: bytes, o: int, pid: int) -> None:
        """Read a PAT (2.4.4.3) or PMT (2.4.4.8) whose section fits in this packet."""
        p = _payload(data, o)
        if p < 0:
            return
        s = p + 1 + data[p]  # pointer_field (2.4.4.2)
        if s + 3 > o + TS or data[s] != (0 if pid == 0 else 2):  # table_id: 0 PAT, 2 PMT
            return
        end = s + 3 + ((data[s + 1] & 0x0F) << 8 | data[s + 2]) - 4  # section_length, minus CRC_32
        if not s + 12 <= end <= o + TS:  # too long for this packet, or shorter than a PAT/PMT header
            return
        if pid == 0 and self._pmt_pid is None:
            for e in range(s + 8, end - 3, 4):  # program_number, reserved, PID
                if data[e] << 8 | data[e + 1]:  # program 0 is the network PID
                    self._pmt_pid = (data[e + 2] & 0x1F) << 8 | data[e + 3]
                    return
        elif pid == self._pmt_pid and not self._streams:
            e = s + 12 + ((data[s + 10] & 0x0F) << 8 | data[s + 11])  # after program_info
            while e + 5 <= end:
                kind, es_pid = data[e], (data[e + 1] & 0x1F) << 8 | data[e + 2]
                info_end = e + 5 + ((data[e + 3] & 0x0F) << 8 | data[e + 4])
                self._add_stream(es_pid, kind, data[e + 5 : min(info_end, end)])
                e = info_end
            if self._streams:
                self._table = _pusi_table(frozenset(p >> 8 for p in self._streams))
                self._sps_done = self._first_video is None
                self._update_look()

    def _add_stream(self, pid: int, stream_type: int, info: bytes) -> None:
        """Map one PMT entry to a stream like FFmpeg's demuxer (``ffprobe`` kind and codec_name)."""
        kind, codec = _STREAM_TYPES.get(stream_type, ("data", ""))
        d = 0
        while stream_type == 0x06 and d + 2 <= len(info):  # PES private data: ask the descriptors
            tag, length = info[d], info[d + 1]
            found = _REGISTERED.get(info[d + 2 : d + 6]) if tag == 0x05 else _DVB.get(tag)
            if found:
                kind, codec = found
                break
            d += 2 + length
        stream = _Stream(pid, kind, codec or None)
        self._streams[pid] = stream
        if kind == "video" and self._first_video is None:
            self._first_video = stream

    def _first_bytes(self, data: bytes, stream: _Stream, i: int, lo: bytes, p: int, end: int) -> None:
        """Look into a PES payload: the MPEG audio layer of the first audio PES (ISO/IEC 11172-3
        2.4.1.3 frame header), the head of a video access unit until keyframe and size are known."""
        body = min(end, p + 6 if data[p + 3] in _NO_HEADER else p + 9 + data[p + 8])  # PES_header_data_length
        mpeg_audio = stream.codec == "mp3" and stream.pes == 1 and body + 2 <= end
        if mpeg_audio and data[body] == 0xFF and data[body + 1] & 0xE0 == 0xE0:  # 11-bit syncword
            stream.codec = _MPEG_LAYER.get(data[body + 1] >> 1 & 3, "mp3")
        if stream.kind == "video" and (self._key is None or (stream is self._first_video and not self._sps_done)):
            self._heads[stream.pid] = bytearray(data[body:end])
            self._head_more(data, lo, stream.pid, i + 1)
        self._update_look()

    def _update_look(self) -> None:
        """Whether PES starts must still go through :meth:`_first_bytes` (kept cheap when not)."""
        self._look = (self._key is None or not self._sps_done
                      or any(s.codec == "mp3" and not s.pes for s in self._streams.values()))  # fmt: skip

    def _head_more(self, data: bytes, lo: bytes, pid: int, j: int) -> None:
        """Add ``pid``'s next packets to the access unit being read until its first slice shows."""
        buf = self._heads[pid]
        while not self._head_done(pid, buf, final=False):
            j = self._next(data, lo, pid, j)
            if j < 0:
                return  # continues in the next chunk
            o = j * TS
            p = _payload(data, o)
            if data[o + 1] & 0x40 or len(buf) > _HEAD_MAX:  # next PES: this access unit is over
                self._head_done(pid, buf, final=True)
                return
            if p >= 0:
                buf += data[p : o + TS]
            j += 1

    def _head_done(self, pid: int, buf: bytearray, *, final: bool) -> bool:
        """Take the keyframe flag and picture size from an access unit's head once it is known."""
        stream = self._streams[pid]
        codec: Codec | None = "h264" if stream.codec == "h264" else "hevc" if stream.codec == "hevc" else None
        head = Head(None, False, None) if codec is None else scan_head(codec, bytes(buf), final=final)
        if head is None:
            return False
        del self._heads[pid]
        if self._key is None:
            self._key = head.key
        if stream is self._first_video and not self._sps_done and (head.size or head.sps_error or codec is None):
            self._size_wh, self._sps_done = head.size, True
            if head.sps_error:
                self._notes.append(f"the first SPS is unreadable: {head.sps_error}")
        return True

    def finish(self) -> TsSummary:
        """Summarize everything fed so far (call once, after the last :meth:`feed`). Never raises."""
        for pid in list(self._heads):
            self._head_done(pid, self._heads[pid], final=True)
        problems = []
        if self._size % TS:
            problems.append(f"size {self._size} is not a whole number of {TS}-byte TS packets (truncated)")
        if self._bad_sync:
            problems.append(f"{self._bad_sync} TS packet(s) do not start with the sync byte 0x47")
        if self._tei:
            problems.append(f"{self._tei} TS packet(s) have transport_error_indicator set")
        for pid, left in self._open.items():
            if left > 0:
                problems.append(f"the last PES of PID {pid} is cut short ({left} bytes missing at the end)")
        streams = list(self._streams.values())
        video = [s for s in streams if s.kind == "video"]
        audio = next((s for s in streams if s.kind == "audio"), None)
        pts = [_pts(t) for s in (video if any(s.pes for s in video) else streams) for t in s.pts]
        duration, gap = _span(pts)
        first = self._first_video
        width, height = self._size_wh or (None, None)
        return TsSummary(
            psi=bool(streams),
            video_codec=first.codec if first else None,
            width=width,
            height=height,
            starts_with_keyframe=bool(self._key),
            audio_codec=audio.codec if audio else None,
            video_packets=sum(s.pes for s in video),
            audio_packets=sum(s.pes for s in streams if s.kind == "audio"),
            data_streams=sum(1 for s in streams if s.kind == "data"),
            duration=duration,
            max_video_gap=gap,
            problems=tuple(problems),
            notes=tuple(self._notes),
        )


def _span(raw: list[int]) -> tuple[float, float]:
    """(duration, largest step) in seconds of 90 kHz timestamps in stream order.

    Each is unwrapped relative to the first (2**33 wraparound, every ~26.5 h). Duration is last -
    first + the most common step between sorted timestamps (the frame duration); FFmpeg adds the
    last packet's own duration instead, which differs only for a variable frame rate.
    """
    if not raw:
        return 0.0, 0.0
    half = WRAP >> 1
    ref = raw[0]
    ts = sorted([(t - ref + half) % WRAP - half for t in raw])
    steps = [b - a for a, b in itertools.pairwise(ts)]
    counts = Counter(steps)
    counts.pop(0, None)  # equal timestamps are not a frame duration
    frame = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))[0] if counts else 0
    return round((ts[-1] - ts[0] + frame) / CLOCK, 6), round(max(steps, default=0) / CLOCK, 6)
