"""Canonical encoding of log entries and the small validators shared by the other modules.

SPEC.md section 3. An entry is a JSON object (RFC 8259) written with keys sorted by code
point, no insignificant whitespace, strings as UTF-8 with only ``"`` and ``\\`` escaped,
integers only (no floats), and nothing else. For the value domain this format allows
(control characters are banned from strings, integers are within +-(2**53 - 1)), the output
equals the JSON Canonicalization Scheme of RFC 8785, so any JCS library reproduces it.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import MalformedError, NonCanonicalError

__all__ = [
    "MAX_ENTRY_BYTES",
    "MAX_SAFE_INT",
    "VERSION",
    "ZERO_HASH",
    "b64decode_strict",
    "b64encode",
    "canonical_json",
    "check_bool",
    "check_fields",
    "check_hex",
    "check_int",
    "check_opt_int",
    "check_text",
    "check_time",
    "entry_hash",
    "format_time",
    "json_string",
    "parse_canonical",
    "parse_time",
]

VERSION = "archive-log/1"
"""The value of every entry's ``v`` field and of the spec's version (SPEC.md section 1)."""

ZERO_HASH = bytes(32)
"""``prev`` of entry 0 (64 hex zeros in the encoding)."""

MAX_SAFE_INT = 2**53 - 1
"""Largest integer magnitude allowed anywhere (exactly representable in IEEE 754 doubles,
so RFC 8785 / JavaScript verifiers read the same number)."""

MAX_ENTRY_BYTES = 65536
"""Upper bound on one entry's canonical encoding."""

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"), check_circular=False
)
# Control characters (C0, DEL, C1) and lone surrogates are banned from every string.
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_HEX = re.compile("[0-9a-f]*")
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z")


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Encode ``value`` canonically (SPEC.md 3.1): sorted keys, no spaces, UTF-8.

    The caller must pass only dicts, lists, str, int, bool and None built from validated
    fields; this function does not re-validate them.

    Raises:
        MalformedError: if the value contains something JSON cannot encode (e.g. a float NaN
            or a lone surrogate).
    """
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise MalformedError(f"cannot encode canonically: {exc}") from exc


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise MalformedError(f"numbers must be integers, found {text!r}")


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse one entry's bytes and require that they are exactly the canonical encoding.

    Raises:
        MalformedError: not UTF-8, not a JSON object, duplicate keys, a float or constant
            (NaN, Infinity), too large.
        NonCanonicalError: valid JSON whose canonical re-encoding differs from ``data``
            (key order, whitespace, escapes such as ``\\u00e9`` instead of ``é``).
    """
    if len(data) > MAX_ENTRY_BYTES:
        raise MalformedError(f"entry is {len(data)} bytes, the limit is {MAX_ENTRY_BYTES}")
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_pairs, parse_float=_no_float, parse_constant=_no_float)
    except MalformedError:
        raise
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MalformedError(f"not a UTF-8 JSON text: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedError(f"an entry must be a JSON object, got {type(value).__name__}")
    try:
        again = _ENCODER.encode(value).encode("utf-8")
    except ValueError as exc:
        raise MalformedError(f"string is not valid Unicode: {exc}") from exc
    if again != data:
        raise NonCanonicalError("bytes are not in canonical encoding (sorted keys, no spaces, UTF-8, minimal escapes)")
    return value


def entry_hash(data: bytes) -> bytes:
    """SHA-256 of an entry's canonical bytes: the next entry's ``prev`` (SPEC.md 4)."""
    return hashlib.sha256(data).digest()


def check_text(value: object, where: str, *, max_len: int, allow_empty: bool = False) -> str:
    """Return ``value`` if it is an allowed string (SPEC.md 3.2).

    Raises:
        MalformedError: not a str, empty (unless allowed), longer than ``max_len`` code
            points, or containing a control character or lone surrogate.
    """
    if not isinstance(value, str):
        raise MalformedError(f"{where}: expected a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise MalformedError(f"{where}: must not be empty")
    if len(value) > max_len:
        raise MalformedError(f"{where}: longer than {max_len} characters")
    bad = _BAD_CHARS.search(value)
    if bad is not None:
        raise MalformedError(f"{where}: contains forbidden character U+{ord(bad.group()):04X}")
    return value


def check_int(value: object, where: str, *, minimum: int = -MAX_SAFE_INT, maximum: int = MAX_SAFE_INT) -> int:
    """Return ``value`` if it is an int (not a bool) within ``[minimum, maximum]``.

    Raises:
        MalformedError: wrong type or out of range.
    """
    if type(value) is not int:
        raise MalformedError(f"{where}: expected an integer, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise MalformedError(f"{where}: {value} is outside [{minimum}, {maximum}]")
    return value


def check_hex(value: object, where: str, *, nbytes: int) -> bytes:
    """Decode a lowercase hex string of exactly ``nbytes`` bytes.

    Raises:
        MalformedError: not a string of ``2 * nbytes`` lowercase hex digits.
    """
    if not isinstance(value, str) or len(value) != 2 * nbytes or not _HEX.fullmatch(value):
        raise MalformedError(f"{where}: expected {2 * nbytes} lowercase hex digits, got {value!r}")
    return bytes.fromhex(value)


@functools.lru_cache(maxsize=1024)  # a segment's end is usually the next one's start
def format_time(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with microseconds: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    RFC 3339 section 5.6 ``date-time`` with ``time-secfrac`` of exactly 6 digits and offset
    ``Z``. Fixed width, so the strings sort in time order.

    Raises:
        MalformedError: not an aware datetime, not representable in UTC, or before 1970.
    """
    v = check_time(value, "time")
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031 (fastest here)
        v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond,
    )  # fmt: skip


def json_string(value: str) -> str:
    """Canonical JSON string literal of a string already checked by :func:`check_text`.

    Such strings hold no control characters, so only ``"`` and ``\\`` are escaped (RFC 8259
    section 7; RFC 8785 section 3.2.2.2 gives the same result).
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_time(value: object, where: str) -> datetime:
    """Parse the exact form written by :func:`format_time` into an aware UTC datetime.

    Raises:
        MalformedError: any other form (offsets other than ``Z``, missing or extra fraction
            digits, lowercase ``t``/``z``, leap second 60, impossible dates, year < 1970).
    """
    if not isinstance(value, str):
        raise MalformedError(f"{where}: expected an RFC 3339 UTC time string, got {type(value).__name__}")
    m = _TIME.fullmatch(value)
    if m is None:
        raise MalformedError(f"{where}: {value!r} is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        y, mo, d, h, mi, sec, us = (int(g) for g in m.groups())
        dt = datetime(y, mo, d, h, mi, sec, us, tzinfo=UTC)
    except ValueError as exc:
        raise MalformedError(f"{where}: {value!r} is not a valid time: {exc}") from exc
    if dt.year < 1970:
        raise MalformedError(f"{where}: {value!r} is before 1970")
    return dt


def check_time(value: object, where: str) -> datetime:
    """Return ``value`` as an aware UTC datetime.

    Raises:
        MalformedError: not a datetime, naive, or before 1970.
    """
    if not isinstance(value, datetime):
        raise MalformedError(f"{where}: expected an aware datetime, got {value!r}")
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise MalformedError(f"{where}: expected an aware datetime, got {value!r}")
        try:
            value = value.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise MalformedError(f"{where}: {value!r} is not representable in UTC") from exc
    if value.year < 1970:
        raise MalformedError(f"{where}: {value.isoformat()} is before 1970")
    return value


def check_opt_int(value: object, where: str, minimum: int, maximum: int | None = None) -> int | None:
    """Return ``value`` if it is None or an int in range (see :func:`check_int`).

    Raises:
        MalformedError: wrong type or out of range.
    """
    if value is None:
        return None
    if maximum is None:
        return check_int(value, where, minimum=minimum)
    return check_int(value, where, minimum=minimum, maximum=maximum)


def check_bool(value: object, where: str) -> bool:
    """Return ``value`` if it is exactly True or False.

    Raises:
        MalformedError: otherwise (0 and 1 are not booleans).
    """
    if type(value) is not bool:
        raise MalformedError(f"{where}: expected true or false, got {value!r}")
    return value


def check_fields(d: object, fields: frozenset[str], where: str) -> Mapping[str, Any]:
    """Return ``d`` if it is a mapping whose keys are exactly ``fields``.

    Raises:
        MalformedError: not a mapping, or missing / unknown keys (all are listed).
    """
    if not isinstance(d, Mapping):
        raise MalformedError(f"{where}: expected a JSON object")
    keys = set(d)
    if keys != fields:
        problems = []
        if fields - keys:
            problems.append(f"missing {sorted(fields - keys)}")
        if keys - fields:
            problems.append(f"unknown {sorted(keys - fields)}")
        raise MalformedError(f"{where}: {', '.join(problems)}")
    return d


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode_strict(value: str, where: str) -> bytes:
    """Decode standard padded base64 (RFC 4648 section 4), rejecting any other spelling.

    Raises:
        MalformedError: characters outside the alphabet, bad padding, or a non-canonical
            encoding (non-zero trailing bits).
    """
    try:
        raw = binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise MalformedError(f"{where}: not standard base64: {exc}") from exc
    if b64encode(raw) != value:
        raise MalformedError(f"{where}: not canonical base64")
    return raw
