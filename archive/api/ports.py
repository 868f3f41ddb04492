"""What the API needs from other parts, as protocols and frozen values (pluggable in ApiDeps).

The export views are re-exported from :mod:`archive.export.views`; the retention plan through a callable
returning :class:`archive.retention.planner.Plan`; status for ``/health`` and ``/metrics``
through :data:`HealthCheck` and :data:`MetricSource` callables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, runtime_checkable

from archive.export.views import ExportFile, ExportRequest, ExportView

__all__ = [
    "CheckResult",
    "ExportFile",
    "ExportRequest",
    "ExportView",
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
    """One health check: ``critical`` failures make ``/health`` answer 503.

    ``detail`` is shown without authentication and must name no camera (counts only);
    ``cameras`` (camera id -> state) only on the authenticated ``/api/v1/health``.
    """

    name: str
    ok: bool
    detail: str
    critical: bool = True
    cameras: tuple[tuple[str, str], ...] = ()


HealthCheck = Callable[[], CheckResult]


@dataclass(frozen=True)
class Metric:
    """One Prometheus sample: ``kind`` is ``gauge`` or ``counter``. A sample with a ``camera``
    label (:data:`archive.api.metrics.PRIVATE_LABELS`) is served only on the authenticated
    ``/api/v1/metrics``; the open ``/metrics`` leaves it out."""

    name: str
    help: str
    kind: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


MetricSource = Callable[[], Iterable[Metric]]
