"""A small, strict DER reader and writer (ITU-T X.690), enough for RFC 3161 time-stamp tokens.

Only definite lengths in their shortest form are accepted (DER, X.690 10.1), tags of one byte
(every tag RFC 3161 and RFC 5652 use is below 31), and nothing may follow a value where the
caller expects its end. Every refusal is a :class:`~archive.integrity.errors.MalformedError`.

Needs only the standard library, so it travels with the offline verifier.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import MalformedError

__all__ = [
    "BOOLEAN",
    "CONTEXT_0",
    "CONTEXT_1",
    "GENERALIZED_TIME",
    "INTEGER",
    "NULL",
    "OCTET_STRING",
    "OID",
    "SEQUENCE",
    "SET",
    "Tlv",
    "encode_integer",
    "encode_oid",
    "encode_tlv",
    "read_one",
]

BOOLEAN = 0x01
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31
CONTEXT_0 = 0xA0  # [0] constructed
CONTEXT_1 = 0xA1  # [1] constructed
CONTEXT_0_PRIMITIVE = 0x80

_MAX_DEPTH_BYTES = 1 << 24  # a token is a few kB; 16 MiB bounds a hostile length field


@dataclass(frozen=True)
class Tlv:
    """One DER value: its tag byte, its content bytes and its whole encoding (tag + length + content)."""

    tag: int
    content: bytes
    raw: bytes

    def children(self) -> list[Tlv]:
        """The values inside a constructed value, in order. Raises MalformedError."""
        if not self.tag & 0x20:
            raise MalformedError(f"DER tag 0x{self.tag:02x} is not constructed")
        return list(_iterate(self.content))

    def expect(self, tag: int, what: str) -> Tlv:
        """Itself when its tag is ``tag``. Raises MalformedError naming ``what``."""
        if self.tag != tag:
            raise MalformedError(f"{what}: DER tag 0x{self.tag:02x}, expected 0x{tag:02x}")
        return self

    def integer(self) -> int:
        """The value of an INTEGER (X.690 8.3, minimal form). Raises MalformedError."""
        self.expect(INTEGER, "integer")
        c = self.content
        if not c or (len(c) > 1 and ((c[0] == 0 and c[1] < 0x80) or (c[0] == 0xFF and c[1] >= 0x80))):
            raise MalformedError("DER integer is empty or not minimal")
        return int.from_bytes(c, "big", signed=True)

    def oid(self) -> str:
        """The dotted form of an OBJECT IDENTIFIER (X.690 8.19). Raises MalformedError."""
        self.expect(OID, "object identifier")
        c = self.content
        if not c or c[-1] & 0x80:
            raise MalformedError("DER object identifier is empty or cut short")
        arcs: list[int] = []
        value = 0
        for i, byte in enumerate(c):
            if value == 0 and byte == 0x80 and (i == 0 or not c[i - 1] & 0x80):
                raise MalformedError("DER object identifier arc is not minimal")
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                arcs.append(value)
                value = 0
        first = min(arcs[0] // 40, 2)
        return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))

    def boolean(self) -> bool:
        """The value of a BOOLEAN (DER: 0x00 or 0xFF). Raises MalformedError."""
        self.expect(BOOLEAN, "boolean")
        if self.content not in (b"\x00", b"\xff"):
            raise MalformedError("DER boolean is not 0x00 or 0xff")
        return self.content == b"\xff"

    def generalized_time(self) -> datetime:
        """A GeneralizedTime in UTC, ``YYYYMMDDHHMMSS[.f+]Z`` (RFC 5280 4.1.2.5.2, RFC 3161 2.4.2).

        Raises MalformedError for any other form (a local time, a comma, trailing zeros)."""
        self.expect(GENERALIZED_TIME, "time")
        try:
            text = self.content.decode("ascii")
        except UnicodeDecodeError as exc:
            raise MalformedError("DER time is not ASCII") from exc
        if not text.endswith("Z") or len(text) < 15 or not text[:14].isdigit():
            raise MalformedError(f"DER time {text!r} is not YYYYMMDDHHMMSS[.fff]Z")
        frac = text[14:-1]
        if frac and (frac[0] != "." or not frac[1:].isdigit() or frac.endswith("0") or len(frac) < 2):
            raise MalformedError(f"DER time {text!r}: bad fraction of a second")
        try:
            base = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError as exc:
            raise MalformedError(f"DER time {text!r} is not a date") from exc
        micro = int((frac[1:] + "000000")[:6]) if frac else 0
        return base.replace(microsecond=micro)


def _read(data: bytes, pos: int) -> tuple[Tlv, int]:
    if pos + 2 > len(data):
        raise MalformedError("DER value cut short")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise MalformedError("DER multi-byte tags are not used by RFC 3161")
    first = data[pos + 1]
    at = pos + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise MalformedError("DER indefinite or oversized length")
        if at + n > len(data):
            raise MalformedError("DER length cut short")
        length = int.from_bytes(data[at : at + n], "big")
        if length < 0x80 or data[at] == 0:
            raise MalformedError("DER length is not in its shortest form")
        at += n
    if length > _MAX_DEPTH_BYTES or at + length > len(data):
        raise MalformedError("DER value longer than its container")
    return Tlv(tag, data[at : at + length], data[pos : at + length]), at + length


def _iterate(data: bytes) -> Iterator[Tlv]:
    pos = 0
    while pos < len(data):
        tlv, pos = _read(data, pos)
        yield tlv


def read_one(data: bytes, what: str) -> Tlv:
    """The single DER value that is all of ``data``. Raises MalformedError (trailing bytes too)."""
    tlv, end = _read(data, 0)
    if end != len(data):
        raise MalformedError(f"{what}: {len(data) - end} bytes after the DER value")
    return tlv


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_tlv(tag: int, content: bytes) -> bytes:
    """DER of one value with ``tag`` and ``content``."""
    return bytes([tag]) + _length(len(content)) + content


def encode_integer(value: int) -> bytes:
    """DER of an INTEGER (minimal two's complement)."""
    size = max(1, (value.bit_length() + 8) // 8)
    return encode_tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def encode_oid(dotted: str) -> bytes:
    """DER of an OBJECT IDENTIFIER given in dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return encode_tlv(OID, bytes(out))
