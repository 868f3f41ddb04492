"""Names that explain themselves (issue 12 item 7): in ``archive/`` no two classes share a name,
and there is exactly one role enum (``archive.identity.model.Role``)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import archive

ROOT = Path(archive.__file__).parent
_ENUM_BASES = {"Enum", "StrEnum", "IntEnum", "Flag", "IntFlag"}


def _classes() -> list[tuple[str, str, ast.ClassDef]]:
    """Every class defined in the package, at any depth: (module path, name, node)."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = str(path.relative_to(ROOT.parent))
        found += [(rel, n.name, n) for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    return found


def _is_enum(node: ast.ClassDef) -> bool:
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
        if name in _ENUM_BASES:
            return True
    return False


def test_no_two_classes_share_a_name() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for rel, name, _node in _classes():
        where[name].append(rel)
    assert {n: p for n, p in where.items() if len(p) > 1} == {}


def test_exactly_one_role_enum() -> None:
    roles = [f"{rel}:{name}" for rel, name, node in _classes() if "role" in name.lower() and _is_enum(node)]
    assert roles == ["archive/identity/model.py:Role"]
