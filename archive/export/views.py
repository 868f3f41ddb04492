"""An export as other layers see it: the request, the view, the built package file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ExportFile", "ExportRequest", "ExportView"]


@dataclass(frozen=True)
class ExportRequest:
    """An investigator's request for an evidence export."""

    case_id: str
    legal_basis: str
    reason: str
    cameras: tuple[str, ...]
    start_us: int
    end_us: int


@dataclass(frozen=True)
class ExportView:
    """An export as the API shows it."""

    id: str
    case_id: str
    status: str
    cameras: tuple[str, ...]
    start_us: int
    end_us: int
    requested_by: str
    requested_agency: str | None
    created_us: int
    approvals: tuple[str, ...] = ()
    progress: float | None = None
    package_sha256: str | None = None
    package_size: int | None = None
    notes: tuple[str, ...] = field(default=())
    error: str | None = None
    """Why the build failed (status ``failed``); retry with ``POST /api/v1/exports/{id}/build``."""


@dataclass(frozen=True)
class ExportFile:
    """A built package on local disk."""

    path: Path
    filename: str
    sha256: str
    size: int
