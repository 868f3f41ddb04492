"""How full the store is: the filesystem holding its data, or catalog bytes against a capacity."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from archive.errors import StorageError
from archive.retention.repo import live_bytes


@dataclass(frozen=True)
class Usage:
    """Bytes used of a capacity, and how that was measured."""

    used_bytes: int
    capacity_bytes: int
    source: str

    @property
    def fraction(self) -> float:
        """Used / capacity."""
        return self.used_bytes / self.capacity_bytes if self.capacity_bytes else 1.0


UsageProbe = Callable[[], Usage]


def disk_usage(path: Path) -> UsageProbe:
    """Usage of the filesystem holding ``path`` (its nearest existing parent).
    The probe raises StorageError when it cannot be measured."""

    def probe() -> Usage:
        target = path
        while not target.exists() and target != target.parent:
            target = target.parent
        try:
            du = shutil.disk_usage(target)
        except OSError as exc:
            raise StorageError(f"cannot measure disk usage of {path}: {exc}") from exc
        return Usage(du.total - du.free, du.total, f"disk {target}")

    return probe


def catalog_usage(engine: Engine, capacity_bytes: int) -> UsageProbe:
    """Bytes of all unpruned segments against a configured capacity (for remote S3 with a quota).
    The probe raises CatalogError."""

    def probe() -> Usage:
        return Usage(live_bytes(engine), capacity_bytes, "catalog bytes / configured capacity")

    return probe


def usage_probe(capacity_bytes: int, usage_path: Path | None, engine: Engine) -> UsageProbe | None:
    """Configured capacity -> catalog bytes against it; else the disk of ``usage_path``; else None."""
    if capacity_bytes > 0:
        return catalog_usage(engine, capacity_bytes)
    return disk_usage(usage_path) if usage_path is not None else None
