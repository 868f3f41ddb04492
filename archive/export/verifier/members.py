"""Member rules of an ``archive-export/1`` package (EXPORT-SPEC.md 3), checked in step 1
before anything is read, and the line rules of its text files.

- A member name is ASCII: one or more parts of ``A-Z a-z 0-9 . _ -`` joined by ``/``; no part
  is ``.`` or ``..``; at most :data:`MAX_PATH` characters. So no absolute path, no ``\\``,
  no traversal, no empty part, and no Unicode normalization question.
- In a zip every member sits in one top folder (the package name) and occurs once; directory
  entries are ignored; nothing else is allowed (a member outside the folder is refused).
- A text file of lines (JSON Lines, the keys file, a proof file) ends with exactly one LF after
  its last line; a missing final newline (a file cut short) is refused, so are CR and empty lines.

Needs only the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .formats import FormatError

__all__ = ["MAX_PATH", "check_member_name", "check_one_folder", "one_line", "text_lines"]

MAX_PATH = 1024
"""Longest member name (characters, which are ASCII bytes)."""
_PART = re.compile(r"[A-Za-z0-9._-]+")


def check_member_name(name: str) -> str:
    """Return ``name`` if it is a valid member name (module docstring). Raises FormatError."""
    parts = name.split("/")
    if not name or len(name) > MAX_PATH or not all(_PART.fullmatch(p) and p not in (".", "..") for p in parts):
        raise FormatError(f"member name {name!r} is not allowed: a package member is named by ASCII parts of "
                          "A-Z a-z 0-9 . _ - joined by '/', with no '..' part and at most "
                          f"{MAX_PATH} characters (EXPORT-SPEC.md 3)")  # fmt: skip
    return name


def check_one_folder(names: Sequence[str]) -> str:
    """The one top folder of a zip's members (``<top>/...``). Raises FormatError when a member
    lies outside it (at the top level, or under a second folder)."""
    if not names:
        raise FormatError("the zip has no files")
    top = names[0].split("/", 1)[0]
    for name in names:
        if "/" not in name or name.split("/", 1)[0] != top:
            raise FormatError(f"member {name!r} is outside the package folder {top}/: every member of a package "
                              "zip lies in its one top folder (EXPORT-SPEC.md 3)")  # fmt: skip
    return top


def text_lines(data: bytes, what: str, *, allow_empty: bool = True) -> list[bytes]:
    """The lines of a text file: every line ends with one LF, none is empty, no CR.

    Raises:
        FormatError: a missing final newline, an empty line or a CR.
    """
    if not data:
        if allow_empty:
            return []
        raise FormatError(f"{what} is empty")
    if not data.endswith(b"\n"):
        raise FormatError(f"{what}: the last line does not end with a newline (file cut short?)")
    lines = data[:-1].split(b"\n")
    if any(not line for line in lines):
        raise FormatError(f"{what}: empty line")
    if any(b"\r" in line for line in lines):
        raise FormatError(f"{what}: carriage return in a line (lines end with LF only)")
    return lines


def one_line(data: bytes, what: str) -> bytes:
    """The single line of a one-line file (canonical JSON + LF, e.g. ``range-proof.json``).
    Raises FormatError."""
    lines = text_lines(data, what, allow_empty=False)
    if len(lines) != 1:
        raise FormatError(f"{what}: {len(lines)} lines, expected exactly one (canonical JSON and one LF)")
    return lines[0]
