"""Audit entries (``archive-audit/1``): the record, its canonical bytes and their parsing.

An entry is one JSON object, canonical as in ``archive/integrity/SPEC.md`` section 3 (sorted
keys, no spaces, UTF-8, integers only, no control characters)::

    {"action": "recordings.search", "actor": "budi", "agency": "police", "at": "...Z",
     "detail": {...}, "ip": "10.0.0.7", "kind": "audit", "log": "<prefix>/audit",
     "method": "GET", "owner": null, "path": "/api/v1/recordings", "prev": "<hex>",
     "result": "ok", "role": "investigator", "seq": 41, "status": 200,
     "target": {...}, "token": "<token id>", "v": "archive-audit/1"}

``prev`` is the SHA-256 of entry ``seq - 1``'s bytes (zeros for seq 0); the leaf hash is
SHA-256(0x00 || bytes), as for the camera logs. Text that came from a request is cleaned
before it is recorded: control characters become ``\\uXXXX`` text, lone surrogates ``?``, long
strings and lists are cut (marked with ``…``), floats become decimal strings.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archive.integrity import ZERO_HASH, canonical_json, format_time, parse_time
from archive.integrity.encoding import parse_canonical
from archive.integrity.errors import MalformedError
from archive.model import us_from_utc, utc_from_us

__all__ = ["VERSION", "AuditEntry", "AuditRecord", "Result", "clean", "decode", "encode", "result_for_status"]

VERSION = "archive-audit/1"
_FIELDS = frozenset({"v", "kind", "log", "seq", "prev", "at", "actor", "agency", "owner", "role", "token", "ip",
                     "action", "method", "path", "target", "result", "status", "detail"})  # fmt: skip
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_MAX_TEXT = 512
_MAX_ITEMS = 64
_MAX_DEPTH = 4


class Result(enum.StrEnum):
    """How a request ended."""

    OK = "ok"  # 2xx / 3xx
    DENIED = "denied"  # 401 / 403
    REJECTED = "rejected"  # other 4xx: bad input, not found, conflict
    FAILED = "failed"  # 5xx: the system failed


def result_for_status(status: int) -> Result:
    """The :class:`Result` of an HTTP status."""
    if status in (401, 403):
        return Result.DENIED
    if status >= 500:
        return Result.FAILED
    return Result.REJECTED if status >= 400 else Result.OK


def _text(value: str) -> str:
    value = value.encode("utf-8", "replace").decode("utf-8")
    value = _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 1] + "…"


def clean(value: object, depth: int = 0) -> Any:
    """``value`` made safe for a canonical entry (see the module docstring)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 - 1 else str(value)
    if isinstance(value, str):
        return _text(value)
    if depth >= _MAX_DEPTH:
        return _text(repr(value))
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))[:_MAX_ITEMS]
        return {_text(str(k)): clean(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        seq = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        out = [clean(v, depth + 1) for v in seq[:_MAX_ITEMS]]
        return [*out, "…"] if len(seq) > _MAX_ITEMS else out
    return _text(str(value))


@dataclass(frozen=True)
class AuditRecord:
    """What happened: who (user, agency or owner, role, token id), when (UTC µs), from where
    (client IP), what (action, method, path, target) and the result (HTTP status)."""

    at_us: int
    ip: str
    action: str
    method: str
    path: str
    status: int
    actor: str | None = None
    agency: str | None = None
    owner: str | None = None
    role: str | None = None
    token: str | None = None
    target: Mapping[str, Any] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> Result:
        """Derived from ``status``."""
        return result_for_status(self.status)


@dataclass(frozen=True)
class AuditEntry:
    """A decoded entry: the envelope plus the record."""

    log: str
    seq: int
    prev: bytes
    record: AuditRecord


def encode(record: AuditRecord, *, log: str, seq: int, prev: bytes) -> bytes:
    """Canonical bytes of ``record`` as entry ``seq`` of ``log``. Raises MalformedError."""
    doc = {
        "v": VERSION, "kind": "audit", "log": log, "seq": seq, "prev": prev.hex(),
        "at": format_time(utc_from_us(record.at_us)), "actor": clean(record.actor), "agency": clean(record.agency),
        "owner": clean(record.owner), "role": clean(record.role), "token": clean(record.token),
        "ip": clean(record.ip), "action": clean(record.action), "method": clean(record.method),
        "path": clean(record.path), "target": clean(dict(record.target)), "result": record.result.value,
        "status": int(record.status), "detail": clean(dict(record.detail)),
    }  # fmt: skip
    return canonical_json(doc)


def _opt(d: Mapping[str, Any], key: str) -> str | None:
    v = d[key]
    if v is not None and not isinstance(v, str):
        raise MalformedError(f"audit entry: {key} must be a string or null")
    return v


def decode(data: bytes) -> AuditEntry:
    """Parse canonical entry bytes.

    Raises:
        MalformedError: not canonical JSON of an ``archive-audit/1`` entry, a missing or
            unknown field, a value of the wrong type, or a result that contradicts the status.
        NonCanonicalError: valid JSON whose canonical encoding differs.
    """
    d = parse_canonical(data)
    if set(d) != _FIELDS:
        raise MalformedError(f"audit entry: fields {sorted(set(d) ^ _FIELDS)} missing or unknown")
    if d["v"] != VERSION or d["kind"] != "audit":
        raise MalformedError(f"audit entry: not an {VERSION} audit entry")
    for key in ("log", "ip", "action", "method", "path", "prev", "result"):
        if not isinstance(d[key], str):
            raise MalformedError(f"audit entry: {key} must be a string")
    if type(d["seq"]) is not int or type(d["status"]) is not int:
        raise MalformedError("audit entry: seq and status must be integers")
    if not isinstance(d["target"], dict) or not isinstance(d["detail"], dict):
        raise MalformedError("audit entry: target and detail must be objects")
    try:
        prev = bytes.fromhex(d["prev"])
    except ValueError as exc:
        raise MalformedError("audit entry: prev is not hex") from exc
    if len(prev) != len(ZERO_HASH):
        raise MalformedError("audit entry: prev must be 32 bytes")
    record = AuditRecord(
        at_us=us_from_utc(parse_time(d["at"], "audit entry at")), ip=d["ip"], action=d["action"],
        method=d["method"], path=d["path"], status=d["status"], actor=_opt(d, "actor"), agency=_opt(d, "agency"),
        owner=_opt(d, "owner"), role=_opt(d, "role"), token=_opt(d, "token"), target=d["target"], detail=d["detail"],
    )  # fmt: skip
    if record.result.value != d["result"]:
        raise MalformedError(f"audit entry: result {d['result']!r} contradicts status {d['status']}")
    return AuditEntry(d["log"], d["seq"], prev, record)
