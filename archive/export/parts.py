"""The export parts of one process, as the composition root assembles them."""

from __future__ import annotations

from dataclasses import dataclass

from archive.export.building import ExportBuilds
from archive.export.jobs import BuildRunner
from archive.export.service import ExportService
from archive.ledger.service import Ledger

__all__ = ["Exports"]


@dataclass(frozen=True)
class Exports:
    """Service (workflow), builds (package writer) and the background runner. ``runner`` builds
    only once started, and only in the one process that builds exports."""

    service: ExportService
    builds: ExportBuilds
    runner: BuildRunner
    ledger: Ledger
