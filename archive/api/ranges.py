"""HTTP byte ranges of a package download (RFC 9110 §14: ``Range``, ``Content-Range``, ``If-Range``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from archive.errors import ConflictError

__all__ = ["parse_range", "read_range"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CHUNK = 1 << 20


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``bytes=`` range within ``size``; None for no (or a
    multi-) range, which means the whole file. Raises ConflictError when unsatisfiable."""
    if not header or "," in header:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        n = int(m.group(2))
        if n == 0:
            raise ConflictError("range not satisfiable")
        return max(0, size - n), size - 1
    first = int(m.group(1))
    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if first >= size or last < first:
        raise ConflictError("range not satisfiable")
    return first, last


def read_range(path: Path, first: int, last: int) -> Iterator[bytes]:
    """Bytes ``first..last`` (inclusive) of ``path`` in chunks of at most 1 MiB (raises OSError)."""
    with path.open("rb") as fh:
        fh.seek(first)
        left = last - first + 1
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
