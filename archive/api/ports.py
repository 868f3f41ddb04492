"""What the API needs from other parts, as protocols and frozen values (pluggable in ApiDeps).

Exports (issue 7) plug in through :class:`ExportsPort`; the retention plan through a callable
returning :class:`archive.retention.planner.Plan`; status for ``/health`` and ``/metrics``
through :data:`HealthCheck` and :data:`MetricSource` callables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from archive.identity.model import Principal
from archive.identity.policy import CameraScope

__all__ = [
    "CheckResult",
    "ExportFile",
    "ExportRequest",
    "ExportView",
    "ExportsPort",
    "HealthCheck",
    "Metric",
    "MetricSource",
    "Presigner",
]


@runtime_checkable
class Presigner(Protocol):
    """Makes short-lived GET URLs of object versions (``archive.storage.s3.S3Store`` is one)."""

    def presigned_get(self, bucket: str, key: str, version_id: str | None, expires: timedelta) -> str:
        """A URL valid for ``expires``. Raises StorageError."""
        ...


@dataclass(frozen=True)
class CheckResult:
    """One health check: ``critical`` failures make ``/health`` answer 503."""

    name: str
    ok: bool
    detail: str
    critical: bool = True


HealthCheck = Callable[[], CheckResult]


@dataclass(frozen=True)
class Metric:
    """One Prometheus sample: ``kind`` is ``gauge`` or ``counter``."""

    name: str
    help: str
    kind: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


MetricSource = Callable[[], Iterable[Metric]]


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


@dataclass(frozen=True)
class ExportFile:
    """A built package on local disk."""

    path: Path
    filename: str
    sha256: str
    size: int


class ExportsPort(Protocol):
    """The export service (issue 7). Every method raises archive errors (NotFoundError for an
    export outside ``scope``, ForbiddenError, ConflictError for a wrong state)."""

    def list(self, who: Principal, scope: CameraScope) -> Sequence[ExportView]:
        """Exports ``who`` may see."""
        ...

    def get(self, who: Principal, scope: CameraScope, export_id: str) -> ExportView:
        """One export."""
        ...

    def request(self, who: Principal, scope: CameraScope, req: ExportRequest) -> ExportView:
        """Create a request (and its legal hold)."""
        ...

    def decide(self, who: Principal, scope: CameraScope, export_id: str, approve: bool, reason: str) -> ExportView:
        """Approve or refuse (owner staff of the cameras' owner, or admin)."""
        ...

    def package(self, who: Principal, scope: CameraScope, export_id: str) -> ExportFile:
        """The built package for download."""
        ...
