"""Spool files of cameras this process does not record (issue 16): what a node keeps on disk for a
camera another node holds now.

A node that was killed, frozen past its lease or fenced keeps the files it had not stored yet
(nothing unstored is ever deleted); when the camera is not given back to it, nobody ingests them.
They may hold the only copy of media inside a ``recorder_failover`` gap, so ``archive status`` and
``/metrics`` name them (:func:`leftover_spool`) until an operator deals with them.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LeftoverSpool", "leftover_spool"]


@dataclass(frozen=True)
class LeftoverSpool:
    """Segment files (``*.ts``) left in one camera's spool directory, and their bytes."""

    camera_id: str
    files: int
    bytes: int

    def as_json(self) -> dict[str, object]:
        return {"camera_id": self.camera_id, "files": self.files, "bytes": self.bytes}


def leftover_spool(root: Path, recording: Collection[str]) -> list[LeftoverSpool]:
    """The spool directories under ``root`` of cameras not in ``recording`` that still hold segment
    files, by camera id. Raises nothing: an unreadable directory is skipped (a missing root is empty)."""
    out = []
    try:
        with os.scandir(root) as entries:
            dirs = sorted((e for e in entries if e.is_dir(follow_symlinks=False) and e.name not in recording),
                          key=lambda e: e.name)  # fmt: skip
    except OSError:
        return []
    for d in dirs:
        files = size = 0
        try:
            with os.scandir(d.path) as found:
                for entry in found:
                    if entry.name.endswith(".ts") and entry.is_file(follow_symlinks=False):
                        files += 1
                        size += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
        if files:
            out.append(LeftoverSpool(d.name, files, size))
    return out
