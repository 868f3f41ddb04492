"""Read camera registry files (YAML, CSV) into located raw records; the only module importing yaml.

A record is a mapping ``field -> Located(value, line)`` so every later problem names ``file:line``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archive.errors import Problem, ValidationError


@dataclass(frozen=True)
class Located:
    """A raw value and the 1-based line it came from."""

    value: Any
    line: int


@dataclass(frozen=True)
class RawRecord:
    """One owner or camera as written in the file, before validation."""

    line: int
    fields: Mapping[str, Located]


@dataclass(frozen=True)
class RawFile:
    """What a registry file contains, before validation."""

    path: str
    owners: tuple[RawRecord, ...]
    cameras: tuple[RawRecord, ...]


CSV_COLUMNS = (
    "id", "name", "owner", "stream_url", "latitude", "longitude", "location",
    "tags", "enabled", "username", "password",
)
_TOP_KEYS = ("owners", "cameras")


def read_registry_file(path: Path) -> RawFile:
    """Parse ``path`` by extension (.yaml/.yml/.csv).

    Raises ValidationError (with file:line) for unreadable files, syntax errors, wrong shapes.
    """
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ValidationError([Problem(where, "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError([Problem(where, f"cannot read file ({exc.__class__.__name__})")]) from exc
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _read_yaml(where, text)
    if suffix == ".csv":
        return RawFile(where, (), tuple(_read_csv(where, text)))
    raise ValidationError([Problem(where, "unsupported file type: use .yaml, .yml or .csv")])


def _scalar(node: Node) -> Any:
    return SafeConstructor().construct_object(node, deep=True)


def _mapping(where: str, node: Node, problems: list[Problem]) -> dict[str, Located] | None:
    if not isinstance(node, MappingNode):
        problems.append(Problem(f"{where}:{node.start_mark.line + 1}", "expected a mapping of fields"))
        return None
    out: dict[str, Located] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        key = _scalar(key_node) if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str):
            problems.append(Problem(f"{where}:{line}", "field names must be strings"))
            continue
        if key in out:
            problems.append(Problem(f"{where}:{line}", f"field '{key}' given twice"))
            continue
        try:
            value = _scalar(value_node)
        except yaml.YAMLError as exc:
            problems.append(Problem(f"{where}:{line}", f"{key}: {exc}"))
            continue
        out[key] = Located(value, value_node.start_mark.line + 1)
    return out


def _records(where: str, node: Node | None, section: str, problems: list[Problem]) -> Iterator[RawRecord]:
    if node is None:
        return
    if not isinstance(node, SequenceNode):
        problems.append(Problem(f"{where}:{node.start_mark.line + 1}", f"'{section}' must be a list"))
        return
    for item in node.value:
        fields = _mapping(where, item, problems)
        if fields is not None:
            yield RawRecord(item.start_mark.line + 1, fields)


def _read_yaml(where: str, text: str) -> RawFile:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ValidationError([Problem(f"{where}{line}", f"not valid YAML ({getattr(exc, 'problem', exc)})")]) from exc
    if root is None:
        raise ValidationError([Problem(where, "file is empty")])
    problems: list[Problem] = []
    if not isinstance(root, MappingNode):
        raise ValidationError([Problem(f"{where}:1", "top level must be a mapping with 'owners' and 'cameras'")])
    sections: dict[str, Node] = {}
    for key_node, value_node in root.value:
        key = _scalar(key_node) if isinstance(key_node, ScalarNode) else None
        line = key_node.start_mark.line + 1
        if key not in _TOP_KEYS:
            problems.append(Problem(f"{where}:{line}", f"unknown top-level key {key!r} (allowed: owners, cameras)"))
        elif key in sections:
            problems.append(Problem(f"{where}:{line}", f"'{key}' given twice"))
        else:
            sections[str(key)] = value_node
    owners = tuple(_records(where, sections.get("owners"), "owners", problems))
    cameras = tuple(_records(where, sections.get("cameras"), "cameras", problems))
    if problems:
        raise ValidationError(problems)
    return RawFile(where, owners, cameras)


def _read_csv(where: str, text: str) -> Iterator[RawRecord]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError([Problem(where, "file is empty")]) from None
    except csv.Error as exc:
        raise ValidationError([Problem(f"{where}:1", f"not valid CSV ({exc})")]) from exc
    names = [h.strip() for h in header]
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown:
        raise ValidationError([Problem(f"{where}:1", f"unknown column(s) {', '.join(unknown)} "
                                                    f"(allowed: {', '.join(CSV_COLUMNS)})")])
    if len(set(names)) != len(names):
        raise ValidationError([Problem(f"{where}:1", "a column is named twice")])
    records: list[RawRecord] = []
    problems: list[Problem] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                problems.append(Problem(f"{where}:{line}", f"expected {len(names)} columns, found {len(row)}"))
                continue
            fields = {n: Located(_csv_value(n, v.strip()), line) for n, v in zip(names, row, strict=True)
                      if v.strip() != ""}
            records.append(RawRecord(line, fields))
    except csv.Error as exc:
        raise ValidationError([Problem(f"{where}:{reader.line_num}", f"not valid CSV ({exc})")]) from exc
    if problems:
        raise ValidationError(problems)
    return iter(records)


def _csv_value(column: str, text: str) -> Any:
    """CSV cells are text; tags are ';'-separated, enabled is a yes/no word, coordinates numbers."""
    if column == "tags":
        return [t.strip() for t in text.split(";") if t.strip()]
    if column == "enabled":
        low = text.lower()
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(low, text)
    if column in ("latitude", "longitude"):
        try:
            return float(text)
        except ValueError:
            return text
    return text
