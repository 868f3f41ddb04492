"""The ``add-checkpoint`` wire format of c2sp.org/tlog-witness (SPEC.md 7.5).

Request body: ``old <size>\\n``, zero to 63 consistency-proof lines (base64 of one 32-byte hash
each), an empty line, then the signed checkpoint note. Answers: 200 with one or more cosignature
lines; 409 with the witness's size (``text/x.tlog.size``: ``<size>\\n``); 400/403/404/422 with a
JSON ``{"error": message}``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from archive.integrity import MalformedError, SignedNote

__all__ = ["MAX_BODY", "MAX_PROOF", "SIZE_TYPE", "AddCheckpoint", "format_size", "parse_size"]

MAX_PROOF: Final = 63
MAX_BODY: Final = 64 * 1024
SIZE_TYPE: Final = "text/x.tlog.size"
_DECIMAL: Final = re.compile(r"0|[1-9][0-9]{0,15}")
_MAX_SIZE: Final = 2**53 - 1


def _size(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text) or int(text) > _MAX_SIZE:
        raise MalformedError(f"{what}: expected a tree size in decimal without leading zeros, got {text[:40]!r}")
    return int(text)


@dataclass(frozen=True)
class AddCheckpoint:
    """One ``add-checkpoint`` request: the size the client believes the witness has, the
    consistency proof from it to the checkpoint, and the signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def encode(self) -> bytes:
        """The request body."""
        lines = [f"old {self.old_size}\n", *(base64.b64encode(h).decode() + "\n" for h in self.proof), "\n"]
        return "".join(lines).encode() + self.note

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse a request body strictly.

        Raises:
            MalformedError: not UTF-8, no ``old`` line, a proof line that is not one base64 hash,
                more than 63 of them, no empty line, or a checkpoint note that does not parse.
        """
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError("the request body is not UTF-8") from exc
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise MalformedError("the request body has no empty line before the checkpoint")
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            raise MalformedError("the request body must start with 'old <size>'")
        old = _size(lines[0][4:], "old size line")
        if len(lines) - 1 > MAX_PROOF:
            raise MalformedError(f"more than {MAX_PROOF} consistency proof lines")
        proof: list[bytes] = []
        for line in lines[1:]:
            try:
                h = base64.b64decode(line, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise MalformedError("a consistency proof line is not base64") from exc
            if len(h) != 32 or base64.b64encode(h).decode() != line:
                raise MalformedError("a consistency proof line is not the base64 of one 32-byte hash")
            proof.append(h)
        SignedNote.parse(note)  # raises MalformedError
        return cls(old, tuple(proof), note.encode())


def format_size(size: int) -> bytes:
    """The 409 body: the witness's size in decimal and a newline."""
    return f"{size}\n".encode()


def parse_size(body: bytes) -> int:
    """Parse a 409 body. Raises MalformedError."""
    text = body.decode("ascii", errors="replace")
    if not text.endswith("\n"):
        raise MalformedError("the witness's size answer does not end in a newline")
    return _size(text[:-1], "the witness's size answer")
