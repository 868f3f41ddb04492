"""Frozen values going into and coming out of the ledger (no I/O).

The recorder hands over :class:`SegmentFacts` (what it stored and probed) and gap facts; the
ledger turns them into log entries (SPEC.md 2) plus catalog rows. Views returned to callers
(:class:`SegmentView`, :class:`CheckpointView`) are plain copies of catalog rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from archive.integrity import MediaInfo, Segment
from archive.integrity.errors import MalformedError
from archive.model import utc_from_us

__all__ = ["AppendResult", "CheckpointView", "SegmentFacts", "SegmentView"]


@dataclass(frozen=True)
class SegmentFacts:
    """One segment the recorder stored and read back (SPEC.md 2.2, section 9).

    ``sha256`` is the lowercase hex SHA-256 of the exact stored bytes; ``start``/``end`` are
    the recorder's wall clock (aware UTC) at the boundaries; ``duration_us`` the container's
    media duration; ``clock_offset_us`` the host clock offset (host minus reference) when
    known; ``camera_start`` the camera's own time at ``start`` if it sends one. ``bucket``
    defaults to the ledger's media bucket. ``meta`` is stored beside the row for the caller
    (e.g. spool run id) and is not part of the evidence.

    Raises (on construction):
        MalformedError: a value the entry format rejects (checked by building the payload).
    """

    object_key: str
    version_id: str
    sha256: str
    size: int
    start: datetime
    end: datetime
    duration_us: int
    media: MediaInfo
    clock_offset_us: int | None = None
    camera_start: datetime | None = None
    bucket: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.sha256) != 64 or self.sha256 != self.sha256.lower():
            raise MalformedError(f"segment sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        self.payload("probe")  # validates every field once, here

    def payload(self, camera_id: str) -> Segment:
        """The entry payload for ``camera_id``. Raises MalformedError."""
        try:
            digest = bytes.fromhex(self.sha256)
        except ValueError as exc:
            raise MalformedError(f"segment sha256 is not hex: {self.sha256!r}") from exc
        return Segment(
            camera=camera_id,
            object_key=self.object_key,
            version_id=self.version_id,
            sha256=digest,
            size=self.size,
            start=self.start,
            end=self.end,
            duration_us=self.duration_us,
            clock_offset_us=self.clock_offset_us,
            media=self.media,
            camera_start=self.camera_start,
        )


@dataclass(frozen=True)
class AppendResult:
    """What an append did: the entry's ``seq``; ``created`` is False when an identical record
    was already logged (idempotent retry) and nothing was appended."""

    camera_id: str
    log_id: str
    seq: int
    created: bool


@dataclass(frozen=True)
class SegmentView:
    """A segment row of the catalog."""

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
    clock_offset_us: int | None
    container: str
    codec: str
    width: int | None
    height: int | None
    keyframe_start: bool
    partial: bool
    pruned: bool
    ingested_us: int
    meta: Mapping[str, str]

    @property
    def start(self) -> datetime:
        """``start_us`` as aware UTC."""
        return utc_from_us(self.start_us)

    @property
    def end(self) -> datetime:
        """``end_us`` as aware UTC."""
        return utc_from_us(self.end_us)


@dataclass(frozen=True)
class CheckpointView:
    """A stored signed checkpoint: the note (with witness cosignatures appended when asked)."""

    log_id: str
    size: int
    root: str
    note: str
    signed_us: int
    object_key: str
    version_id: str
    cosignatures: int = 0
