"""Builders shared by the integrity tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archive.integrity import (
    Appended,
    Clock,
    Gap,
    GapReason,
    LogWriter,
    MediaInfo,
    MemoryTree,
    Payload,
    Prune,
    Segment,
    SignedNote,
    Signer,
    sign_checkpoint,
)

ORIGIN = "test.example/log/cam-7"
CAMERA = "cam-7"
T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
SEG = timedelta(seconds=10)
MEDIA = MediaInfo(container="mpegts", codec="h264", width=1280, height=720, keyframe_start=True, partial=False)


def media_bytes(i: int) -> bytes:
    """The (small, fake) media file of segment ``i``."""
    return i.to_bytes(8, "big") * 1000


def segment(i: int, start: datetime, end: datetime | None = None, *, camera: str = CAMERA) -> Segment:
    """A realistic segment payload number ``i`` starting at ``start``; its media is ``media_bytes(i)``."""
    end = end if end is not None else start + SEG
    body = media_bytes(i)
    return Segment(
        camera=camera,
        object_key=f"{camera}/{start:%Y/%m/%d/%H%M%S}-{i}.ts",
        version_id=f"v-{i:08d}",
        sha256=hashlib.sha256(body).digest(),
        size=len(body),
        start=start,
        end=end,
        duration_us=10_000_000,
        clock_offset_us=-150,
        media=MEDIA,
    )


@dataclass
class BuiltLog:
    """A log written with a LogWriter, kept with everything a test needs."""

    writer: LogWriter
    appended: list[Appended]
    tree: MemoryTree
    signer: Signer

    @property
    def data(self) -> list[bytes]:
        return [a.data for a in self.appended]

    def note(self) -> SignedNote:
        return sign_checkpoint(self.writer.checkpoint(), self.signer)


def build_log(payloads: Sequence[Payload], *, origin: str = ORIGIN, signer: Signer | None = None) -> BuiltLog:
    writer = LogWriter(origin)
    tree = MemoryTree()
    appended = []
    for p in payloads:
        a = writer.append(p)
        tree.append(a.leaf_hash)
        appended.append(a)
    return BuiltLog(writer, appended, tree, signer or Signer.from_seed(origin, bytes(32)))


def timeline(n: int, *, gap_at: int | None = None, gap_len: timedelta = timedelta(seconds=30)) -> list[Payload]:
    """A clock entry, then ``n`` contiguous 10 s segments; optionally a gap entry before segment
    ``gap_at`` (the recording resumes after the gap)."""
    out: list[Payload] = [Clock(at=T0, synced=True, source="chrony", offset_us=-150, max_error_us=2000, stratum=2)]
    t = T0
    for i in range(n):
        if gap_at is not None and i == gap_at:
            out.append(Gap(camera=CAMERA, start=t, end=t + gap_len, reason=GapReason.CAMERA_UNREACHABLE))
            t += gap_len
        out.append(segment(i, t))
        t += SEG
    return out


def prune(from_seq: int, to_seq: int) -> Prune:
    return Prune(from_seq=from_seq, to_seq=to_seq, rule="owner-a.yaml#default-30d", at=T0 + timedelta(days=31))
