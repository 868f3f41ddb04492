"""Read and strictly validate a ``retention_policies/`` directory (TOML, one file per owner).

Every problem names ``file:line``: unknown keys, missing or negative periods, wrong types, a
period outside the city floor/ceiling, an owner file named after another owner, overlapping
overrides. All problems of all files are collected and raised together as one
:class:`~archive.errors.ValidationError`; nothing is returned unless everything is valid.
The schema is documented in ``retention_policies/README.md``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archive.errors import Problem, ValidationError
from archive.retention.policy import (
    CITY_FILE,
    CityPolicy,
    ExportApproval,
    Override,
    OwnerPolicy,
    OwnerPressure,
    PolicySet,
    PressureThresholds,
)
from archive.retention.tomlpos import Path as KeyPath
from archive.retention.tomlpos import key_lines, line_of

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TOML_LINE = re.compile(r"at line (\d+)")
_IGNORED_SUFFIXES = (".md", ".txt")


class _File:
    """Problems of one file, located by key path."""

    def __init__(self, path: Path, text: str, problems: list[Problem]) -> None:
        self.path = path
        self.lines = key_lines(text)
        self.problems = problems
        self.count = len(problems)

    def add(self, key: KeyPath, message: str) -> None:
        self.problems.append(Problem(f"{self.path}:{line_of(self.lines, key)}", message))

    @property
    def ok(self) -> bool:
        return len(self.problems) == self.count

    def keys(self, table: Mapping[str, Any], at: KeyPath, allowed: set[str], required: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.add((*at, key), f"unknown key '{_dotted(at, key)}' (allowed here: {', '.join(sorted(allowed))})")
        for key in sorted(required - set(table)):
            self.add(at, f"missing key '{_dotted(at, key)}'")

    def days(self, table: Mapping[str, Any], at: KeyPath, key: str, low: int = 1, high: int | None = None,
             bounds: str = "") -> int | None:  # fmt: skip
        value = table.get(key)
        if value is None:
            return None
        name = _dotted(at, key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add((*at, key), f"'{name}' must be a whole number of days, got {value!r}")
            return None
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"between {low} and {high}"
            self.add((*at, key), f"'{name}' must be {span}{bounds}, got {value}")
            return None
        return value

    def fraction(self, table: Mapping[str, Any], at: KeyPath, key: str) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            self.add((*at, key), f"'{_dotted(at, key)}' must be a fraction in (0, 1], got {value!r}")
            return None
        return float(value)

    def text(self, table: Mapping[str, Any], at: KeyPath, key: str,
             pattern: re.Pattern[str] | None = None) -> str | None:  # fmt: skip
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            want = f"matching {pattern.pattern}" if pattern is not None else "a string"
            self.add((*at, key), f"'{_dotted(at, key)}' must be {want}, got {value!r}")
            return None
        return value

    def names(self, table: Mapping[str, Any], at: KeyPath, key: str) -> frozenset[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and ID_PATTERN.match(v) for v in value):
            self.add((*at, key), f"'{_dotted(at, key)}' must be a list of ids like \"dishub-001\", got {value!r}")
            return frozenset()
        return frozenset(value)


def _dotted(at: KeyPath, key: str) -> str:
    parts = [p if isinstance(p, str) else f"[{p}]" for p in (*at, key)]
    return ".".join(parts).replace(".[", "[")


def _read(path: Path, problems: list[Problem]) -> tuple[dict[str, Any], str] | None:
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(f"{path}:1", f"cannot read policy file: {exc}"))
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE.search(str(exc))
        problems.append(Problem(f"{path}:{m.group(1) if m else 1}", f"not valid TOML: {exc}"))
    return None


def _city(path: Path, problems: list[Problem]) -> CityPolicy | None:
    read = _read(path, problems)
    if read is None:
        return None
    doc, text = read
    f = _File(path, text, problems)
    f.keys(doc, (), {"floor_days", "ceiling_days", "default_keep_days", "storage_pressure"},
           {"floor_days", "ceiling_days", "default_keep_days", "storage_pressure"})  # fmt: skip
    floor = f.days(doc, (), "floor_days")
    ceiling = f.days(doc, (), "ceiling_days", low=floor or 1)
    default = f.days(doc, (), "default_keep_days", low=floor or 1, high=ceiling, bounds=" (city floor/ceiling)")
    sp = doc.get("storage_pressure", {})
    thresholds = None
    if not isinstance(sp, dict):
        f.add(("storage_pressure",), "'storage_pressure' must be a table [storage_pressure]")
    elif "storage_pressure" in doc:
        at: KeyPath = ("storage_pressure",)
        names = {"alarm_at", "delete_at", "delete_down_to"}
        f.keys(sp, at, names, names)
        alarm, delete, down = (f.fraction(sp, at, k) for k in ("alarm_at", "delete_at", "delete_down_to"))
        if alarm is not None and delete is not None and down is not None:
            if not down < delete:
                f.add((*at, "delete_down_to"),
                      f"'storage_pressure.delete_down_to' ({down}) must be below delete_at ({delete})")
            if not alarm <= delete:
                f.add((*at, "alarm_at"), f"'storage_pressure.alarm_at' ({alarm}) must not exceed delete_at ({delete})")
            thresholds = PressureThresholds(alarm, delete, down)
    if not f.ok or floor is None or ceiling is None or default is None or thresholds is None:
        return None
    return CityPolicy(floor, ceiling, default, thresholds, source=path.name)


_OWNER_KEYS = {"owner", "keep_days", "export_approval", "storage_pressure", "override"}
_OVERRIDE_KEYS = {"id", "cameras", "tags", "keep_days"}


def _owner(path: Path, city: CityPolicy | None, problems: list[Problem]) -> OwnerPolicy | None:
    read = _read(path, problems)
    if read is None:
        return None
    doc, text = read
    f = _File(path, text, problems)
    floor, ceiling = (city.floor_days, city.ceiling_days) if city else (1, None)
    bounds = " (the city floor and ceiling in _city.toml)" if city else ""
    f.keys(doc, (), _OWNER_KEYS, {"owner", "keep_days", "export_approval"})
    owner = f.text(doc, (), "owner", ID_PATTERN)
    if owner is not None and owner != path.stem:
        f.add(("owner",), f"owner '{owner}' must match the file name ('{path.stem}.toml')")
    keep = f.days(doc, (), "keep_days", low=floor, high=ceiling, bounds=bounds)
    approval_raw = f.text(doc, (), "export_approval")
    approval = None
    if approval_raw is not None:
        try:
            approval = ExportApproval(approval_raw)
        except ValueError:
            f.add(("export_approval",), f"'export_approval' must be one of owner, admin, policy, got {approval_raw!r}")
    pressure = _owner_pressure(f, doc, floor, keep)
    overrides = _overrides(f, doc, floor, ceiling, bounds)
    if not f.ok or owner is None or keep is None or approval is None or pressure is None:
        return None
    return OwnerPolicy(owner, keep, approval, pressure, overrides, source=path.name)


def _owner_pressure(f: _File, doc: Mapping[str, Any], floor: int, keep: int | None) -> OwnerPressure | None:
    sp = doc.get("storage_pressure")
    at: KeyPath = ("storage_pressure",)
    if sp is None:
        return OwnerPressure()
    if not isinstance(sp, dict):
        f.add(at, "'storage_pressure' must be a table [storage_pressure]")
        return None
    f.keys(sp, at, {"delete_early", "min_keep_days"}, {"delete_early"})
    early = sp.get("delete_early")
    if early is not None and not isinstance(early, bool):
        f.add((*at, "delete_early"), f"'storage_pressure.delete_early' must be true or false, got {early!r}")
        return None
    low_keep = f.days(sp, at, "min_keep_days", low=floor, high=keep, bounds=" (city floor .. the owner's keep_days)")
    if early and "min_keep_days" not in sp:
        f.add(at, "'storage_pressure.min_keep_days' is required when delete_early = true")
    return OwnerPressure(bool(early), low_keep if early else None)


def _overrides(f: _File, doc: Mapping[str, Any], floor: int, ceiling: int | None, bounds: str) -> tuple[Override, ...]:
    raw = doc.get("override", [])
    if not isinstance(raw, list) or not all(isinstance(o, dict) for o in raw):
        f.add(("override",), "'override' must be an array of tables [[override]]")
        return ()
    out: list[Override] = []
    seen_ids: set[str] = set()
    seen_cameras: set[str] = set()
    for i, o in enumerate(raw):
        at: KeyPath = ("override", i)
        f.keys(o, at, _OVERRIDE_KEYS, {"id", "keep_days"})
        oid = f.text(o, at, "id", ID_PATTERN)
        if oid is not None and oid in seen_ids:
            f.add((*at, "id"), f"override id '{oid}' is used twice")
        seen_ids.add(oid or "")
        cameras, tags = f.names(o, at, "cameras"), f.names(o, at, "tags")
        if bool(cameras) == bool(tags):
            f.add(at, f"override '{oid}' must list either cameras or tags (one of them, not empty)")
        for cam in sorted(cameras & seen_cameras):
            f.add((*at, "cameras"), f"camera '{cam}' is in two overrides")
        seen_cameras |= cameras
        days = f.days(o, at, "keep_days", low=floor, high=ceiling, bounds=bounds)
        if oid is not None and days is not None:
            out.append(Override(oid, days, cameras, tags))
    return tuple(out)


def load_policies(directory: Path) -> PolicySet:
    """Load ``_city.toml`` and every ``<owner>.toml`` of ``directory``.

    Raises:
        ValidationError: any problem in any file (all listed, each with ``file:line``), a missing
            directory or city file, or a file that is not ``.toml`` (README/.md/.txt are ignored).
    """
    problems: list[Problem] = []
    if not directory.is_dir():
        raise ValidationError([Problem(str(directory), "retention policy directory not found")])
    city_path = directory / CITY_FILE
    city = None
    if city_path.is_file():
        city = _city(city_path, problems)
    else:
        problems.append(Problem(str(city_path), "the city-wide policy file is missing"))
    owners: dict[str, OwnerPolicy] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.name == CITY_FILE or path.suffix.lower() in _IGNORED_SUFFIXES:
            continue
        if path.suffix != ".toml" or not path.is_file():
            problems.append(Problem(f"{path}:1", "not a retention policy file (expected <owner>.toml)"))
            continue
        pol = _owner(path, city, problems)
        if pol is not None:
            owners[pol.owner] = pol
    if problems or city is None:
        raise ValidationError(problems or [Problem(str(city_path), "invalid city-wide policy")])
    return PolicySet(city, owners, directory=str(directory))
