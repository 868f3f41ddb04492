"""Frozen values of search queries and results. Times are epoch microseconds, UTC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from archive.redact import scrub
from archive.search.geo import Box

__all__ = [
    "CameraCoverage",
    "CameraHit",
    "CameraQuery",
    "GapView",
    "Interval",
    "Near",
    "RecordingsPage",
    "SegmentHit",
    "SegmentRef",
    "Sighting",
]


@dataclass(frozen=True)
class Near:
    """A circle: centre (degrees) and radius (metres)."""

    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class CameraQuery:
    """Camera filters; each set field narrows the result. ``near`` and ``box`` may combine."""

    owner: str | None = None
    tag: str | None = None
    text: str | None = None
    near: Near | None = None
    box: Box | None = None
    enabled_only: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class CameraHit:
    """A camera found (never its stream credentials); ``distance_m`` when searched by a point."""

    id: str
    name: str
    owner_id: str
    latitude: float
    longitude: float
    location: str
    tags: tuple[str, ...]
    enabled: bool
    distance_m: float | None = None


@dataclass(frozen=True)
class Interval:
    """``[start_us, end_us)``."""

    start_us: int
    end_us: int


@dataclass(frozen=True)
class GapView:
    """A logged interval without media, with its reason (log entry ``seq``).

    ``detail`` is scrubbed of credentials (:func:`archive.redact.scrub`): entries logged before
    details were scrubbed may hold a camera URL with its password."""

    seq: int
    start_us: int
    end_us: int
    reason: str
    detail: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", scrub(self.detail))


class SegmentHit(NamedTuple):
    """One stored segment (its log entry ``seq``); ``pruned``: media deleted by retention.

    A NamedTuple (immutable, built straight from a result row: the recordings hot path)."""

    camera_id: str
    seq: int
    start_us: int
    end_us: int
    duration_us: int
    size: int
    sha256: str
    container: str
    codec: str
    width: int | None
    height: int | None
    partial: bool
    pruned: bool


@dataclass(frozen=True)
class CameraCoverage:
    """What one camera has for a time range.

    ``covered``: media present; ``pruned``: media deleted by retention (entries kept);
    ``gaps``: logged outages with reasons; ``unaccounted``: neither media nor a gap entry
    (e.g. before the camera was recorded, or the recorder has not logged it yet);
    ``segments``/``bytes``: stored segments in the range (pruned included).
    """

    camera_id: str
    covered: tuple[Interval, ...]
    pruned: tuple[Interval, ...]
    gaps: tuple[GapView, ...]
    unaccounted: tuple[Interval, ...]
    segments: int
    bytes: int


@dataclass(frozen=True)
class RecordingsPage:
    """One page of a recordings search; ``coverage`` covers the whole range (first page only)."""

    start_us: int
    end_us: int
    coverage: tuple[CameraCoverage, ...]
    segments: tuple[SegmentHit, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class Sighting:
    """A camera near a place, with what it has for the time range."""

    camera: CameraHit
    coverage: CameraCoverage


@dataclass(frozen=True)
class SegmentRef:
    """Where a segment's media is stored (for playback), with its evidence facts."""

    camera_id: str
    seq: int
    bucket: str
    object_key: str
    version_id: str
    sha256: str
    size: int
    start_us: int
    end_us: int
    duration_us: int
    container: str
    codec: str
    width: int | None
    height: int | None
    partial: bool
    pruned: bool
