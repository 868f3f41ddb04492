"""The camera's own absolute time beside the recorder's: RTCP sender reports (SPEC.md 2.2
``camera_start``, 9.1).

A camera that sends RTCP sender reports (SR) tells, in each, its wall clock (NTP) at one RTP
timestamp. ffmpeg's RTP demuxer maps every later packet's RTP timestamp through the latest SR onto
that clock (``AV_PKT_DATA_PRFT`` side data, libavformat/rtpdec.c ``rtp_set_prft``): the camera's
time of that frame, to the microsecond, by the camera's own clocks. Nothing else about the camera's
clock reaches us. ffmpeg writes no container field of that value except the fragmented-MP4
``prft`` box, and there it cannot be told from ffmpeg's own clock: a packet without the side data
(before the first SR, or a camera that never sends one) gets ffmpeg's local time in the same box
with the same flags. So the recorder adds an output of the video's key frames only, a ``tee`` into
two pipes (:func:`archive.recorder.ffmpeg.build_argv`):

* ``framecrc``: one text line per key frame (and for the run's first packet) with its PTS and the
  side data it carries (names, or sizes in older ffmpeg): whether it had a PRFT, i.e. an SR before it;
* fragmented MP4 with ``-write_prft wallclock``: one ``prft`` box per key frame (``frag_keyframe``)
  holding that PRFT value, rounded down to the millisecond by ffmpeg.

Both are slaves of one ``tee`` and get the very same packets in the same order, so the n-th line
and the n-th box are one key frame (checked: their PTS steps must agree). :class:`CameraClockTracker`
pairs them and appends one line per key frame to the run's sidecar file ``<run>.camtime`` in the
spool: ``<pts> <unix_us>``, or ``<pts> -`` when it carried no SR-derived time. At ingest
:class:`CameraTimes` reads it and gives a segment's ``camera_start``: the camera's time of the key
frame it starts with, or extrapolated from the nearest one by the PTS difference (the camera's RTP
clock). Never ffmpeg's or our clock.
"""

from __future__ import annotations

import bisect
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = ["PENDING", "CameraClockTracker", "CameraTimes", "FramecrcReader", "KeyFrame", "PrftReader"]

_log = logging.getLogger(__name__)
NTP_UNIX_OFFSET_S: Final = 2_208_988_800
PRFT_NAME: Final = "Producer Reference Time"
PRFT_SIZE: Final = 16  # sizeof(AVProducerReferenceTime): ffmpeg before 7 prints sizes, not names
#: a key frame's PTS and the segment list's start of the segment it begins agree to this (seconds)
MATCH_S: Final = 0.01
#: the farthest a segment's start is dated from a key frame by its PTS difference (seconds)
MAX_EXTRAPOLATE_S: Final = 30.0
#: the PTS steps of the two outputs must agree to this (prft rounds to the millisecond)
PAIR_TOLERANCE_S: Final = 0.002
PENDING: Final = "pending"
#: how far into a run a segment waits for a later key frame's camera time while none came yet:
#: RFC 3550 6.2 sends the first SR within about 1.5 x 5 s / 2 of the start, so a camera that sent
#: none by then is taken as one that sends none (its segments wait no longer)
FIRST_SR_S: Final = 10.0
#: the largest offset taken between the segment list's timeline and the key-frame output's: the
#: segment muxer shifts a run whose first DTS is negative (B-frames: 80 ms measured), the key-frame
#: output does not; its first line is the run's first packet, where the list starts (0)
MAX_SHIFT_S: Final = 1.0


@dataclass(frozen=True)
class KeyFrame:
    """One key frame: its PTS in seconds on the run's output timeline (the segment list's) and the
    camera's time of it (Unix microseconds) when an SR preceded it, else None."""

    pts: float
    camera_us: int | None


class FramecrcReader:
    """Incremental reader of ffmpeg's ``framecrc`` text: per packet its PTS (seconds) and whether it
    carried PRFT side data. Lines: ``stream, dts, pts, duration, size, crc[, F=..][, S=n, ...]``."""

    def __init__(self) -> None:
        self._pending = b""
        self.tb = 1 / 90000  # seconds per PTS unit ("#tb 0:" header; Debian's 5.1 behind a tee: 1/fps)

    def feed(self, data: bytes) -> list[tuple[float, bool]]:
        """The packets completed by ``data``. Raises nothing (a malformed line is skipped)."""
        text = self._pending + data
        cut = text.rfind(b"\n") + 1
        lines, self._pending = text[:cut], text[cut:][-4096:]
        out: list[tuple[float, bool]] = []
        for raw in lines.decode("ascii", "replace").splitlines():
            if raw.startswith("#tb 0:"):
                num, _, den = raw.split(":", 1)[1].strip().partition("/")
                if num.isdigit() and den.isdigit() and int(den):
                    self.tb = int(num) / int(den)
                continue
            if raw.startswith("#") or not raw.strip():
                continue
            fields = [f.strip() for f in raw.split(",")]
            try:
                pts = int(fields[2]) * self.tb
            except (IndexError, ValueError):
                continue
            out.append((pts, _has_prft(fields[6:])))
        return out


def _has_prft(rest: list[str]) -> bool:
    """Whether the side-data part of a framecrc line names a PRFT (``S=n`` then ``name, size, crc``
    per entry, or ``size, crc`` in ffmpeg before 7)."""
    items = next((rest[i + 1 :] for i, f in enumerate(rest) if f.startswith("S=")), None)
    if items is None:
        return False
    i = 0
    while i < len(items):
        if items[i].isdigit():  # unnamed: size, crc
            if int(items[i]) == PRFT_SIZE:
                return True
            i += 2
        else:
            if items[i] == PRFT_NAME:
                return True
            i += 3
    return False


class PrftReader:
    """Incremental reader of a fragmented MP4 stream: the ``prft`` boxes' (NTP as Unix microseconds,
    media time in the track's timescale), in order. Box payloads other than ``prft`` are skipped
    without being kept."""

    def __init__(self) -> None:
        self._buf = b""
        self._skip = 0

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        """The boxes completed by ``data``. Raises ValueError for a stream that is not MP4 boxes."""
        out: list[tuple[int, int]] = []
        if self._skip:
            used = min(self._skip, len(data))
            self._skip -= used
            data = data[used:]
        buf = self._buf + data
        while len(buf) >= 8:
            size, kind = struct.unpack_from(">I4s", buf, 0)
            head = 8
            if size == 1:
                if len(buf) < 16:
                    break
                (size,) = struct.unpack_from(">Q", buf, 8)
                head = 16
            if size < head:
                raise ValueError(f"MP4 box {kind!r} of size {size}")
            if kind == b"prft":
                if len(buf) < size:
                    break
                out.append(_prft(buf[head:size]))
                buf = buf[size:]
            elif len(buf) >= size:
                buf = buf[size:]
            else:  # a large box (mdat): drop what we have, skip the rest as it comes
                self._skip = size - len(buf)
                buf = b""
        self._buf = buf
        return out


def _prft(body: bytes) -> tuple[int, int]:
    """ISO/IEC 14496-12 ``prft``: version, flags, reference track, 64-bit NTP, media time."""
    version = body[0]
    (ntp,) = struct.unpack_from(">Q", body, 8)
    (media,) = struct.unpack_from(">Q" if version == 1 else ">I", body, 16)
    unix_us = (ntp >> 32) * 1_000_000 + (((ntp & 0xFFFFFFFF) * 1_000_000) >> 32) - NTP_UNIX_OFFSET_S * 1_000_000
    return unix_us, media


class CameraClockTracker:
    """Pairs one run's framecrc packets with its ``prft`` boxes and appends each key frame to the
    run's sidecar file (module docstring), which it creates empty at once: its presence tells the
    ingest that key frames of the run are coming. Raises nothing: a problem is logged once and the
    run gets no more camera times (segments without them are logged with ``camera_start`` null)."""

    def __init__(self, path: Path, camera_id: str, timescale: int = 90000) -> None:
        self.path, self.camera_id, self._timescale = path, camera_id, timescale
        try:
            path.touch()
        except OSError as exc:
            _log.warning("camera %s: cannot create %s: %s", camera_id, path, exc)
        self._crc, self._mp4 = FramecrcReader(), PrftReader()
        self._frames: list[tuple[float, bool]] = []
        self._boxes: list[tuple[int, int]] = []
        self._first: tuple[float, int] | None = None
        self.broken: str | None = None
        self.latest: KeyFrame | None = None

    def framecrc(self, data: bytes) -> None:
        """Bytes of the framecrc output."""
        self._frames += self._crc.feed(data)
        self._pair()

    def mp4(self, data: bytes) -> None:
        """Bytes of the fragmented-MP4 output."""
        if self.broken is None:
            try:
                self._boxes += self._mp4.feed(data)
            except ValueError as exc:
                self._fail(str(exc))
        self._pair()

    def _fail(self, why: str) -> None:
        self.broken = why
        _log.warning("camera %s: no camera time for the rest of this run: %s", self.camera_id, why)

    def _pair(self) -> None:
        lines: list[str] = []
        while self.broken is None and self._frames and self._boxes:
            (crc_pts, sr), (unix_us, media) = self._frames.pop(0), self._boxes.pop(0)
            if self._first is None:
                self._first = (crc_pts, media)
            # the PTS from the MP4's media time (90 kHz), anchored at the first line's: framecrc's
            # time base may be coarser (1/fps); both must tell the same step
            pts = self._first[0] + (media - self._first[1]) / self._timescale
            if abs(crc_pts - pts) > max(PAIR_TOLERANCE_S, self._crc.tb):
                self._fail(f"the key-frame outputs disagree at PTS {crc_pts:.6f}")
                break
            frame = KeyFrame(pts, unix_us if sr else None)
            self.latest = frame
            lines.append(f"{pts:.6f} {'-' if frame.camera_us is None else frame.camera_us}\n")
        if lines:
            try:
                with self.path.open("a", encoding="ascii") as fh:
                    fh.write("".join(lines))
            except OSError as exc:
                self._fail(f"cannot write {self.path}: {exc}")


class CameraTimes:
    """A run's sidecar file read incrementally, for the segments of that run in recording order.
    Raises nothing (an unreadable file gives no times)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._pts: list[float] = []
        self._frames: list[KeyFrame] = []
        self._seen_sr = False
        self._shift: float | None = None  # segment-list PTS minus this file's (from its first line)

    def _refresh(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return
        cut = data.rfind(b"\n") + 1
        self._offset += cut
        for line in data[:cut].decode("ascii", "replace").splitlines():
            pts_text, _, value = line.partition(" ")
            try:
                frame = KeyFrame(float(pts_text), None if value == "-" else int(value))
            except ValueError:
                continue
            if self._shift is None:  # the run's first packet: the segment list starts there, at 0
                self._shift = -frame.pts if abs(frame.pts) <= MAX_SHIFT_S else 0.0
            if not self._pts or frame.pts > self._pts[-1]:
                self._pts.append(frame.pts)
                self._frames.append(frame)
                self._seen_sr = self._seen_sr or frame.camera_us is not None

    def camera_start(
        self, start: float | None, end: float | None = None, *, more_coming: bool
    ) -> int | Literal["pending"] | None:
        """The camera's time (Unix µs) of the frame at ``start`` (seconds, the segment list's; the
        segment ends at ``end``), or None (no SR-derived key frame within :data:`MAX_EXTRAPOLATE_S`,
        or no ``start``), or :data:`PENDING` when ``more_coming`` and the key frame at ``start`` is
        not written yet (while none is, only in the run's first :data:`FIRST_SR_S`), or none
        carried a camera time yet, the segment's later key frames are not written yet and the run
        is younger than :data:`FIRST_SR_S`.

        The key frame the segment starts with when it carries a camera time; else the nearest one
        that does, extrapolated by the PTS difference. Key frames well before ``start`` are
        forgotten (segments come in order)."""
        if start is None:
            return None
        self._refresh()
        start -= self._shift or 0.0  # onto this file's timeline
        last = self._pts[-1] if self._pts else None
        if more_coming and (start < FIRST_SR_S if last is None else last < start - MATCH_S):
            return PENDING  # (no key frame at all past FIRST_SR_S: the outputs give none, none will come)
        i = bisect.bisect_left(self._pts, start - MATCH_S)
        near = [f for f in self._frames[max(0, i - 64) : i + 64]
                if f.camera_us is not None and abs(f.pts - start) <= MAX_EXTRAPOLATE_S]  # fmt: skip
        best = min(near, key=lambda f: abs(f.pts - start), default=None)
        if (best is None and more_coming and not self._seen_sr and last is not None and last < FIRST_SR_S
                and (end is None or last < end - MATCH_S)):  # fmt: skip
            return PENDING
        keep = bisect.bisect_left(self._pts, start - MAX_EXTRAPOLATE_S)
        if keep > 0:
            del self._pts[:keep], self._frames[:keep]
        if best is None or best.camera_us is None:
            return None
        return best.camera_us + round((start - best.pts) * 1_000_000)
