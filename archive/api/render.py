"""Search values -> response bodies (times in UTC and the display zone)."""

from __future__ import annotations

from collections.abc import Sequence

from archive.search.model import CameraCoverage, CameraHit, GapView, Interval, SegmentHit
from archive.search.times import TimeFormatter

from .schemas import CameraOut, CoverageOut, GapOut, IntervalOut, SegmentOut

__all__ = ["camera_out", "coverage_out", "interval_out", "opt_time", "segment_out", "segments_out"]


def interval_out(t: TimeFormatter, start_us: int, end_us: int) -> IntervalOut:
    """``[start_us, end_us)`` with both zones and its length in seconds."""
    return IntervalOut(start=t.utc(start_us), start_local=t.local(start_us), end=t.utc(end_us),
                       end_local=t.local(end_us), seconds=(end_us - start_us) / 1e6)  # fmt: skip


def _iv(t: TimeFormatter, i: Interval) -> IntervalOut:
    return interval_out(t, i.start_us, i.end_us)


def _gap(t: TimeFormatter, g: GapView) -> GapOut:
    return GapOut(start=t.utc(g.start_us), start_local=t.local(g.start_us), end=t.utc(g.end_us),
                  end_local=t.local(g.end_us), seconds=(g.end_us - g.start_us) / 1e6, seq=g.seq, reason=g.reason,
                  detail=g.detail)  # fmt: skip


def opt_time(t: TimeFormatter, us: int | None) -> str | None:
    """UTC text of ``us``, or None."""
    return None if us is None else t.utc(us)


def camera_out(c: CameraHit) -> CameraOut:
    """A camera (never its stream URL or credentials)."""
    return CameraOut(id=c.id, name=c.name, owner=c.owner_id, latitude=c.latitude, longitude=c.longitude,
                     location=c.location, tags=list(c.tags), enabled=c.enabled, distance_m=c.distance_m)  # fmt: skip


def coverage_out(t: TimeFormatter, c: CameraCoverage) -> CoverageOut:
    """A camera's coverage of a range."""
    return CoverageOut(camera=c.camera_id, covered=[_iv(t, i) for i in c.covered], pruned=[_iv(t, i) for i in c.pruned],
                       gaps=[_gap(t, g) for g in c.gaps], unaccounted=[_iv(t, i) for i in c.unaccounted],
                       segments=c.segments, bytes=c.bytes)  # fmt: skip


def segment_out(t: TimeFormatter, s: SegmentHit) -> SegmentOut:
    """One segment."""
    return SegmentOut(start=t.utc(s.start_us), start_local=t.local(s.start_us), end=t.utc(s.end_us),
                      end_local=t.local(s.end_us), seconds=(s.end_us - s.start_us) / 1e6, camera=s.camera_id,
                      seq=s.seq, duration_s=s.duration_us / 1e6, size=s.size, sha256=s.sha256, container=s.container,
                      codec=s.codec, width=s.width, height=s.height, partial=s.partial, pruned=s.pruned)  # fmt: skip


def segments_out(t: TimeFormatter, segs: Sequence[SegmentHit]) -> list[SegmentOut]:
    """Many segments; a boundary shared by consecutive segments is formatted once (hot path)."""
    utc, local = t.utc, t.local
    memo: dict[int, tuple[str, str]] = {}
    out = []
    for s in segs:
        a = memo.pop(s.start_us, None) or (utc(s.start_us), local(s.start_us))
        b = (utc(s.end_us), local(s.end_us))
        memo[s.end_us] = b
        out.append(SegmentOut(start=a[0], start_local=a[1], end=b[0], end_local=b[1],
                              seconds=(s.end_us - s.start_us) / 1e6, camera=s.camera_id, seq=s.seq,
                              duration_s=s.duration_us / 1e6, size=s.size, sha256=s.sha256, container=s.container,
                              codec=s.codec, width=s.width, height=s.height, partial=s.partial,
                              pruned=s.pruned))  # fmt: skip
    return out
