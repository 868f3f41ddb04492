"""Line numbers of keys in a TOML document (``tomllib`` gives values, not positions).

A small scanner for the TOML a person writes by hand: table headers (``[a.b]``), arrays of
tables (``[[a]]``, numbered from 0), ``key = value`` lines (bare, quoted and dotted keys),
multi-line strings and arrays (skipped). It only *locates* keys the real parser already
accepted, so it never has to reject anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

Path = tuple[str | int, ...]

_BARE = r"[A-Za-z0-9_-]+"
_KEY = rf"(?:{_BARE}|\"[^\"]*\"|'[^']*')"
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY)


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in _PART.findall(dotted))


def _scan_rest(line: str, depth: int) -> tuple[int, str | None]:
    """Bracket depth after ``line`` and the delimiter of a multi-line string left open."""
    i, n = 0, len(line)
    while i < n:
        for quote in ('"""', "'''"):
            if line.startswith(quote, i):
                end = line.find(quote, i + 3)
                if end < 0:
                    return depth, quote
                i = end + 3
                break
        else:
            c = line[i]
            if c == "#":
                break
            if c in "\"'":
                end = i + 1
                while end < n and line[end] != c:
                    end += 2 if (c == '"' and line[end] == "\\") else 1
                i = end + 1
                continue
            if c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
            i += 1
    return depth, None


def key_lines(text: str) -> Mapping[Path, int]:
    """Map each key path (tables and arrays-of-tables included) to its 1-based line."""
    lines: dict[Path, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    table: Path = ()
    depth, open_string = 0, None
    for number, line in enumerate(text.splitlines(), start=1):
        if open_string is not None:
            if open_string in line:
                rest = line.split(open_string, 1)[1]
                depth, open_string = _scan_rest(rest, depth)
            continue
        if depth > 0:
            depth, open_string = _scan_rest(line, depth)
            continue
        if m := _ARRAY_HEADER.match(line):
            name = _parts(m.group(1))
            index = counts.get(name, 0)
            counts[name] = index + 1
            table = (*name, index)
            lines.setdefault(name, number)
            lines[table] = number
            continue
        if m := _HEADER.match(line):
            table = _parts(m.group(1))
            lines.setdefault(table, number)
            continue
        if m := _ASSIGN.match(line):
            lines.setdefault((*table, *_parts(m.group(1))), number)
            depth, open_string = _scan_rest(line[m.end():], 0)
    return lines


def line_of(lines: Mapping[Path, int], path: Path) -> int:
    """The line of ``path``, else of its nearest located parent, else 1."""
    for end in range(len(path), 0, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return 1
