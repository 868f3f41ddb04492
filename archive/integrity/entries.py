"""The entry envelope of archive-log/1 (SPEC.md section 2.1) and its canonical bytes.

An :class:`Entry` is the envelope (``v``, ``kind``, ``log``, ``seq``, ``prev``) plus one
payload from :mod:`archive.integrity.payloads` (re-exported here). :meth:`Entry.from_dict`
and :meth:`Entry.decode` reject missing and unknown fields and non-canonical bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .encoding import (
    VERSION,
    canonical_json,
    check_fields,
    check_hex,
    check_int,
    format_time,
    json_string,
    parse_canonical,
)
from .errors import IntegrityError, MalformedError
from .keys import check_key_name
from .payloads import (
    KINDS,
    Clock,
    Gap,
    GapReason,
    KeyRotation,
    MediaInfo,
    Payload,
    Prune,
    Segment,
    rotation_statement,
)

__all__ = [
    "COMMON_FIELDS",
    "Clock",
    "Entry",
    "Gap",
    "GapReason",
    "KeyRotation",
    "MediaInfo",
    "Payload",
    "Prune",
    "Segment",
    "rotation_statement",
]

COMMON_FIELDS = frozenset({"v", "kind", "log", "seq", "prev"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: envelope plus payload (SPEC.md 2.1).

    ``seq`` is the 0-based leaf index; ``prev`` the SHA-256 of entry ``seq - 1``'s canonical
    bytes (32 zero bytes for seq 0).

    Raises (on construction):
        MalformedError: bad origin, seq or prev; a prune entry naming seqs not before itself; a
            key entry whose new key is not named after the log.
    """

    log: str
    seq: int
    prev: bytes
    payload: Payload

    def __post_init__(self) -> None:
        check_key_name(self.log, "log")
        check_int(self.seq, "seq", minimum=0)
        if not isinstance(self.prev, bytes) or len(self.prev) != 32:
            raise MalformedError("prev: expected 32 bytes")
        if not isinstance(self.payload, Segment | Gap | Prune | Clock | KeyRotation):
            raise MalformedError(f"payload: unknown type {type(self.payload).__name__}")
        if isinstance(self.payload, Prune) and self.payload.to_seq > self.seq:
            raise MalformedError(
                f"prune: to_seq {self.payload.to_seq} names entries not before this one (seq {self.seq})"
            )
        if isinstance(self.payload, KeyRotation) and self.payload.new_verifier_key.name != self.log:
            raise MalformedError(f"key: the new key's name must be the log origin {self.log!r}")

    @property
    def kind(self) -> str:
        """``segment``, ``gap``, ``prune``, ``clock`` or ``key``."""
        return self.payload.KIND

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON object (envelope and payload fields side by side)."""
        d = self.payload.to_dict()
        d["v"] = VERSION
        d["kind"] = self.payload.KIND
        d["log"] = self.log
        d["seq"] = self.seq
        d["prev"] = self.prev.hex()
        return d

    def encode(self) -> bytes:
        """The canonical bytes (SPEC.md 3). Raises MalformedError if not encodable."""
        if isinstance(self.payload, Segment):
            return _encode_segment(self, self.payload)
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Entry:
        """Validate a parsed JSON object strictly (exact field set per kind).

        Raises:
            MalformedError: wrong version, unknown kind, missing/unknown field, bad value.
        """
        v = d.get("v")
        if v != VERSION:
            raise MalformedError(f"v: expected {VERSION!r}, got {v!r}")
        kind = d.get("kind")
        payload_cls = KINDS.get(kind) if isinstance(kind, str) else None
        if payload_cls is None:
            raise MalformedError(f"kind: unknown kind {kind!r}")
        check_fields(d, COMMON_FIELDS | payload_cls.FIELDS, f"{kind} entry")
        seq = d["seq"]
        log = d["log"]
        try:
            return cls(
                log=log,
                seq=seq,
                prev=check_hex(d["prev"], "prev", nbytes=32),
                payload=payload_cls.from_dict(d),
            )
        except IntegrityError as exc:
            raise exc.located(log=log if isinstance(log, str) else None, seq=seq if type(seq) is int else None) from exc

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        """Parse and validate canonical entry bytes.

        Raises:
            MalformedError: see :meth:`from_dict` and :func:`parse_canonical`.
            NonCanonicalError: the bytes are not the canonical encoding.
        """
        return cls.from_dict(parse_canonical(data))


def _encode_segment(e: Entry, s: Segment) -> bytes:
    """Fast path of ``canonical_json(e.to_dict())`` for segment entries (the hot path).

    Keys are written in sorted order by hand; strings were validated at construction (no
    control characters), so :func:`json_string` is exact. Tests compare it with the generic
    encoder on random entries.
    """
    m = s.media
    cs = "null" if s.camera_start is None else f'"{format_time(s.camera_start)}"'
    co = "null" if s.clock_offset_us is None else str(s.clock_offset_us)
    height = "null" if m.height is None else str(m.height)
    width = "null" if m.width is None else str(m.width)
    return (
        f'{{"camera":{json_string(s.camera)},"camera_start":{cs},"clock_offset_us":{co},'
        f'"duration_us":{s.duration_us},"end":"{format_time(s.end)}","kind":"segment",'
        f'"log":{json_string(e.log)},"media":{{"codec":{json_string(m.codec)},'
        f'"container":{json_string(m.container)},"height":{height},'
        f'"keyframe_start":{"true" if m.keyframe_start else "false"},'
        f'"partial":{"true" if m.partial else "false"},"width":{width}}},'
        f'"object_key":{json_string(s.object_key)},"prev":"{e.prev.hex()}","seq":{e.seq},'
        f'"sha256":"{s.sha256.hex()}","size":{s.size},"start":"{format_time(s.start)}",'
        f'"v":"{VERSION}","version_id":{json_string(s.version_id)}}}'
    ).encode()
