"""The custody log of one evidence export (``archive-custody/1``): hash-chained JSON Lines.

Each line is one event in canonical JSON (:func:`~.formats.canonical`) with exactly these
members::

    v        "archive-custody/1"
    export   the export id
    seq      0, 1, 2, ... (dense)
    prev     hex SHA-256 of the previous line's bytes (64 zeros for seq 0)
    event    requested | approved | refused | withdrawn | hold_released | build_started | built |
             build_failed | packaged | downloaded | verified
    at       UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ
    local    the same instant in the archive's display time zone, e.g.
             "2025-03-14 16:26:50 WIB (UTC+07:00, Asia/Jakarta)"
    actor    user id (or "system")      name   display name
    role     admin | investigator | legal | owner | auditor | system
    agency   agency id or null          owner  camera owner id or null
    from     where the action came from: client IP address, or "cli:<os user>@<host>"
    detail   an object (no floats) with what the event is about

The package carries the events up to ``built`` (the manifest signs their head hash);
the archive keeps appending to the same chain (``packaged``, ``downloaded``, ``verified``),
and ``archive export custody ID`` prints the whole chain, which must begin with the package's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .formats import FormatError, canonical, parse_strict

__all__ = [
    "CUSTODY_FORMAT",
    "EVENTS",
    "ZERO",
    "CustodyEvent",
    "decode_event",
    "encode_event",
    "split_lines",
    "verify_chain",
]

CUSTODY_FORMAT = "archive-custody/1"
ZERO = "0" * 64
EVENTS = frozenset({"requested", "approved", "refused", "withdrawn", "hold_released", "build_started", "built",
                    "build_failed", "packaged", "downloaded", "verified"})  # fmt: skip
_FIELDS = frozenset({"v", "export", "seq", "prev", "event", "at", "local", "actor", "name", "role", "agency",
                     "owner", "from", "detail"})  # fmt: skip
_STR = ("export", "prev", "event", "at", "local", "actor", "name", "role", "from")


@dataclass(frozen=True)
class CustodyEvent:
    """One decoded event with its exact bytes and their SHA-256 (hex)."""

    export: str
    seq: int
    prev: str
    event: str
    at: str
    local: str
    actor: str
    name: str
    role: str
    agency: str | None
    owner: str | None
    origin: str
    detail: Mapping[str, Any]
    data: bytes
    hash: str

    def who(self) -> str:
        """``name (actor, role, agency or owner)`` for people."""
        member = self.agency or (f"owner {self.owner}" if self.owner else "")
        return f"{self.name} ({self.actor}, {self.role}{', ' + member if member else ''})"


def encode_event(*, export: str, seq: int, prev: str, event: str, at: str, local: str, actor: str, name: str,
                 role: str, agency: str | None, owner: str | None, origin: str,
                 detail: Mapping[str, Any]) -> bytes:  # fmt: skip
    """Canonical bytes of one event (no trailing newline). Raises FormatError for an unknown event."""
    if event not in EVENTS:
        raise FormatError(f"unknown custody event {event!r}")
    return canonical({
        "v": CUSTODY_FORMAT, "export": export, "seq": seq, "prev": prev, "event": event, "at": at, "local": local,
        "actor": actor, "name": name, "role": role, "agency": agency, "owner": owner, "from": origin,
        "detail": dict(detail),
    })  # fmt: skip


def decode_event(data: bytes) -> CustodyEvent:
    """Parse one event strictly (canonical bytes, exact members, types).

    Raises:
        FormatError: otherwise.
    """
    d = parse_strict(data, "custody event", require_canonical=True)
    if set(d) != _FIELDS:
        raise FormatError(f"custody event: members {sorted(set(d) ^ _FIELDS)} missing or unknown")
    if d["v"] != CUSTODY_FORMAT:
        raise FormatError(f"custody event: version {d['v']!r}, expected {CUSTODY_FORMAT}")
    for key in _STR:
        if not isinstance(d[key], str):
            raise FormatError(f"custody event: {key} must be a string")
    for key in ("agency", "owner"):
        if d[key] is not None and not isinstance(d[key], str):
            raise FormatError(f"custody event: {key} must be a string or null")
    if type(d["seq"]) is not int or d["seq"] < 0 or not isinstance(d["detail"], dict):
        raise FormatError("custody event: seq must be a non-negative integer and detail an object")
    if d["event"] not in EVENTS:
        raise FormatError(f"custody event: unknown event {d['event']!r}")
    return CustodyEvent(d["export"], d["seq"], d["prev"], d["event"], d["at"], d["local"], d["actor"], d["name"],
                        d["role"], d["agency"], d["owner"], d["from"], d["detail"], data,
                        hashlib.sha256(data).hexdigest())  # fmt: skip


def split_lines(data: bytes, what: str) -> list[bytes]:
    """JSON Lines: every line ends with one newline. Raises FormatError."""
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise FormatError(f"{what}: the last line does not end with a newline (file cut short?)")
    lines = data[:-1].split(b"\n")
    if any(not line for line in lines):
        raise FormatError(f"{what}: empty line")
    return lines


def verify_chain(lines: Sequence[bytes], export_id: str) -> list[CustodyEvent]:
    """Decode a custody log and check its chain: dense seq from 0, each ``prev`` the hash of
    the line before, every event about ``export_id``.

    Raises:
        FormatError: naming the event (seq) and what differs.
    """
    out: list[CustodyEvent] = []
    prev = ZERO
    for i, line in enumerate(lines):
        try:
            ev = decode_event(line)
        except FormatError as exc:
            raise FormatError(f"custody event {i}: {exc}") from exc
        if ev.seq != i:
            raise FormatError(f"custody event {i}: says seq {ev.seq} (an event was removed, inserted or reordered)")
        if ev.prev != prev:
            raise FormatError(f"custody event {i} ({ev.event}): prev is {ev.prev}, but the event before hashes to "
                              f"{prev} (an earlier event was edited, removed or reordered)")  # fmt: skip
        if ev.export != export_id:
            raise FormatError(f"custody event {i}: is about export {ev.export!r}, not {export_id!r}")
        out.append(ev)
        prev = ev.hash
    return out
