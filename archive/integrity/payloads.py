"""Payloads of archive-log/1 entries (SPEC.md section 2): what each kind of entry records.

Each payload is a frozen dataclass that validates its fields on construction and converts
to and from the JSON members it contributes to an entry. The envelope (``v``, ``kind``,
``log``, ``seq``, ``prev``) is :class:`archive.integrity.entries.Entry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from .encoding import (
    check_bool,
    check_fields,
    check_hex,
    check_int,
    check_opt_int,
    check_text,
    check_time,
    format_time,
    parse_time,
)
from .errors import MalformedError
from .keys import ALG_ED25519, VerifierKey

__all__ = [
    "KINDS",
    "Clock",
    "Gap",
    "GapReason",
    "KeyRotation",
    "MediaInfo",
    "Payload",
    "Prune",
    "Segment",
    "rotation_statement",
]

_NAME_LEN = 256
_LONG_LEN = 1024
_DETAIL_LEN = 4096


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


class GapReason(StrEnum):
    """Why there is no media for a time interval (SPEC.md 2.3). The set is closed in v1."""

    CAMERA_UNREACHABLE = "camera_unreachable"
    STREAM_ERROR = "stream_error"
    RECORDER_STOPPED = "recorder_stopped"
    RECORDER_CRASHED = "recorder_crashed"
    STORE_DOWN = "store_down"
    SPOOL_FULL = "spool_full"
    UNREADABLE_SEGMENT = "unreadable_segment"
    CLOCK_STEP = "clock_step"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """Codec facts of a segment as probed from its bytes (SPEC.md 2.2, field ``media``).

    Raises (on construction):
        MalformedError: a field has the wrong type or range.
    """

    container: str
    codec: str
    width: int | None
    height: int | None
    keyframe_start: bool
    partial: bool

    FIELDS: ClassVar[frozenset[str]] = frozenset({"container", "codec", "width", "height", "keyframe_start", "partial"})

    def __post_init__(self) -> None:
        check_text(self.container, "media.container", max_len=64)
        check_text(self.codec, "media.codec", max_len=64)
        check_opt_int(self.width, "media.width", 1, 1 << 20)
        check_opt_int(self.height, "media.height", 1, 1 << 20)
        check_bool(self.keyframe_start, "media.keyframe_start")
        check_bool(self.partial, "media.partial")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "container": self.container,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "keyframe_start": self.keyframe_start,
            "partial": self.partial,
        }

    @classmethod
    def from_dict(cls, d: object) -> MediaInfo:
        """Parse the JSON object form. Raises MalformedError on missing/unknown/bad fields."""
        m = check_fields(d, cls.FIELDS, "media")
        return cls(m["container"], m["codec"], m["width"], m["height"], m["keyframe_start"], m["partial"])


@dataclass(frozen=True, slots=True)
class Segment:
    """One media object stored exactly as recorded (SPEC.md 2.2).

    ``sha256``/``size`` are of the exact stored bytes; ``start``/``end`` are the recorder's
    wall clock (UTC) at the segment boundaries; ``duration_us`` is the media duration from the
    container; ``clock_offset_us`` the host clock's estimated offset from its time reference
    (host minus reference) when known; ``camera_start`` the camera's own absolute time at the
    segment start when the camera sends one.

    Raises (on construction):
        MalformedError: a field has the wrong type or range, or ``end <= start``.
    """

    KIND: ClassVar[str] = "segment"
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"camera", "object_key", "version_id", "sha256", "size", "start", "end", "duration_us",
         "clock_offset_us", "media", "camera_start"}
    )  # fmt: skip

    camera: str
    object_key: str
    version_id: str
    sha256: bytes
    size: int
    start: datetime
    end: datetime
    duration_us: int
    clock_offset_us: int | None
    media: MediaInfo
    camera_start: datetime | None = None

    def __post_init__(self) -> None:
        check_text(self.camera, "segment.camera", max_len=_NAME_LEN)
        check_text(self.object_key, "segment.object_key", max_len=_LONG_LEN)
        check_text(self.version_id, "segment.version_id", max_len=_LONG_LEN)
        if not isinstance(self.sha256, bytes) or len(self.sha256) != 32:
            raise MalformedError("segment.sha256: expected 32 bytes")
        check_int(self.size, "segment.size", minimum=0)
        _set(self, "start", check_time(self.start, "segment.start"))
        _set(self, "end", check_time(self.end, "segment.end"))
        if self.end <= self.start:
            raise MalformedError(f"segment: end {self.end.isoformat()} is not after start")
        check_int(self.duration_us, "segment.duration_us", minimum=0)
        check_opt_int(self.clock_offset_us, "segment.clock_offset_us", -(2**53 - 1))
        if not isinstance(self.media, MediaInfo):
            raise MalformedError("segment.media: expected MediaInfo")
        if self.camera_start is not None:
            _set(self, "camera_start", check_time(self.camera_start, "segment.camera_start"))

    def to_dict(self) -> dict[str, Any]:
        """The payload fields as JSON values."""
        return {
            "camera": self.camera,
            "object_key": self.object_key,
            "version_id": self.version_id,
            "sha256": self.sha256.hex(),
            "size": self.size,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "duration_us": self.duration_us,
            "clock_offset_us": self.clock_offset_us,
            "media": self.media.to_dict(),
            "camera_start": None if self.camera_start is None else format_time(self.camera_start),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Segment:
        """Parse payload fields (already checked for exact key set). Raises MalformedError."""
        cs = d["camera_start"]
        return cls(
            camera=d["camera"],
            object_key=d["object_key"],
            version_id=d["version_id"],
            sha256=check_hex(d["sha256"], "segment.sha256", nbytes=32),
            size=d["size"],
            start=parse_time(d["start"], "segment.start"),
            end=parse_time(d["end"], "segment.end"),
            duration_us=d["duration_us"],
            clock_offset_us=d["clock_offset_us"],
            media=MediaInfo.from_dict(d["media"]),
            camera_start=None if cs is None else parse_time(cs, "segment.camera_start"),
        )


def _gap_reason(value: object) -> GapReason:
    if isinstance(value, str):
        try:
            return GapReason(value)
        except ValueError:
            pass
    raise MalformedError(f"gap.reason: unknown reason {value!r}; allowed: {', '.join(GapReason)}")


@dataclass(frozen=True, slots=True)
class Gap:
    """An interval with no media and the reason (SPEC.md 2.3).

    Raises (on construction):
        MalformedError: bad field, unknown reason, or ``end <= start``.
    """

    KIND: ClassVar[str] = "gap"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"camera", "start", "end", "reason", "detail"})

    camera: str
    start: datetime
    end: datetime
    reason: GapReason
    detail: str = ""

    def __post_init__(self) -> None:
        check_text(self.camera, "gap.camera", max_len=_NAME_LEN)
        _set(self, "start", check_time(self.start, "gap.start"))
        _set(self, "end", check_time(self.end, "gap.end"))
        if self.end <= self.start:
            raise MalformedError(f"gap: end {self.end.isoformat()} is not after start")
        _set(self, "reason", _gap_reason(self.reason))
        check_text(self.detail, "gap.detail", max_len=_DETAIL_LEN, allow_empty=True)

    def to_dict(self) -> dict[str, Any]:
        """The payload fields as JSON values."""
        return {
            "camera": self.camera,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "reason": self.reason.value,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Gap:
        """Parse payload fields. Raises MalformedError."""
        reason = _gap_reason(d["reason"])
        return cls(
            camera=d["camera"],
            start=parse_time(d["start"], "gap.start"),
            end=parse_time(d["end"], "gap.end"),
            reason=reason,
            detail=d["detail"],
        )


@dataclass(frozen=True, slots=True)
class Prune:
    """Media of the entries with seq in ``[from_seq, to_seq)`` was deleted by ``rule`` at ``at``
    (SPEC.md 2.4). The entries themselves stay in the log.

    Raises (on construction):
        MalformedError: bad field or ``to_seq <= from_seq``.
    """

    KIND: ClassVar[str] = "prune"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"from_seq", "to_seq", "rule", "at"})

    from_seq: int
    to_seq: int
    rule: str
    at: datetime

    def __post_init__(self) -> None:
        check_int(self.from_seq, "prune.from_seq", minimum=0)
        check_int(self.to_seq, "prune.to_seq", minimum=1)
        if self.to_seq <= self.from_seq:
            raise MalformedError(f"prune: to_seq {self.to_seq} is not after from_seq {self.from_seq}")
        check_text(self.rule, "prune.rule", max_len=_LONG_LEN)
        _set(self, "at", check_time(self.at, "prune.at"))

    def to_dict(self) -> dict[str, Any]:
        """The payload fields as JSON values."""
        return {"from_seq": self.from_seq, "to_seq": self.to_seq, "rule": self.rule, "at": format_time(self.at)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Prune:
        """Parse payload fields. Raises MalformedError."""
        return cls(d["from_seq"], d["to_seq"], d["rule"], parse_time(d["at"], "prune.at"))


@dataclass(frozen=True, slots=True)
class Clock:
    """The host clock's synchronization state at ``at`` (SPEC.md 2.5).

    Raises (on construction):
        MalformedError: a field has the wrong type or range.
    """

    KIND: ClassVar[str] = "clock"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"at", "synced", "source", "offset_us", "max_error_us", "stratum"})

    at: datetime
    synced: bool
    source: str
    offset_us: int | None = None
    max_error_us: int | None = None
    stratum: int | None = None

    def __post_init__(self) -> None:
        _set(self, "at", check_time(self.at, "clock.at"))
        check_bool(self.synced, "clock.synced")
        check_text(self.source, "clock.source", max_len=_NAME_LEN)
        check_opt_int(self.offset_us, "clock.offset_us", -(2**53 - 1))
        check_opt_int(self.max_error_us, "clock.max_error_us", 0)
        check_opt_int(self.stratum, "clock.stratum", 0, 16)

    def to_dict(self) -> dict[str, Any]:
        """The payload fields as JSON values."""
        return {
            "at": format_time(self.at),
            "synced": self.synced,
            "source": self.source,
            "offset_us": self.offset_us,
            "max_error_us": self.max_error_us,
            "stratum": self.stratum,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Clock:
        """Parse payload fields. Raises MalformedError."""
        return cls(
            parse_time(d["at"], "clock.at"), d["synced"], d["source"],
            d["offset_us"], d["max_error_us"], d["stratum"],
        )  # fmt: skip


def rotation_statement(log: str, old_key_id: bytes, new_key: str, at: datetime) -> bytes:
    """The exact bytes the old key signs for a key rotation (SPEC.md 2.6)."""
    return (
        f"archive-log/1 key rotation\nlog {log}\nold {old_key_id.hex()}\nnew {new_key}\nat {format_time(at)}\n"
    ).encode()


@dataclass(frozen=True, slots=True)
class KeyRotation:
    """From ``at`` on, checkpoints of this log are signed by ``new_key`` (a C2SP verifier-key
    string, type 0x01, name = the log origin) instead of the key with id ``old_key_id``;
    ``sig`` is the old key's Ed25519 signature of :func:`rotation_statement` (SPEC.md 2.6).

    Raises (on construction):
        MalformedError: bad key string, id not 4 bytes, signature not 64 bytes.
    """

    KIND: ClassVar[str] = "key"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"at", "old_key_id", "new_key", "sig"})

    at: datetime
    old_key_id: bytes
    new_key: str
    sig: bytes

    def __post_init__(self) -> None:
        _set(self, "at", check_time(self.at, "key.at"))
        if not isinstance(self.old_key_id, bytes) or len(self.old_key_id) != 4:
            raise MalformedError("key.old_key_id: expected 4 bytes")
        check_text(self.new_key, "key.new_key", max_len=_LONG_LEN)
        if VerifierKey.parse(self.new_key).alg != ALG_ED25519:
            raise MalformedError("key.new_key: must be an Ed25519 note key (type 0x01)")
        if not isinstance(self.sig, bytes) or len(self.sig) != 64:
            raise MalformedError("key.sig: expected a 64-byte Ed25519 signature")

    @property
    def new_verifier_key(self) -> VerifierKey:
        """``new_key`` parsed."""
        return VerifierKey.parse(self.new_key)

    def to_dict(self) -> dict[str, Any]:
        """The payload fields as JSON values."""
        return {
            "at": format_time(self.at),
            "old_key_id": self.old_key_id.hex(),
            "new_key": self.new_key,
            "sig": self.sig.hex(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> KeyRotation:
        """Parse payload fields. Raises MalformedError."""
        return cls(
            at=parse_time(d["at"], "key.at"),
            old_key_id=check_hex(d["old_key_id"], "key.old_key_id", nbytes=4),
            new_key=d["new_key"],
            sig=check_hex(d["sig"], "key.sig", nbytes=64),
        )


Payload = Segment | Gap | Prune | Clock | KeyRotation
KINDS: dict[str, type[Segment] | type[Gap] | type[Prune] | type[Clock] | type[KeyRotation]] = {
    c.KIND: c for c in (Segment, Gap, Prune, Clock, KeyRotation)
}
