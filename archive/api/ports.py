"""What the API needs from other parts, as protocols and frozen values (pluggable in ApiDeps).

The export views are re-exported from :mod:`archive.export.views`; the retention plan through a callable
returning :class:`archive.retention.planner.Plan`; status for ``/health`` and ``/metrics``
through :data:`HealthCheck` and :data:`MetricSource` callables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from archive.export.views import ExportFile, ExportRequest, ExportView

__all__ = [
    "CheckResult",
    "ExportFile",
    "ExportRequest",
    "ExportView",
    "HealthCheck",
    "MediaStore",
    "Metric",
    "MetricSource",
]


@runtime_checkable
class MediaStore(Protocol):
    """Reads stored object versions for playback through the API (any ``ObjectStore`` is one)."""

    def open(self, bucket: str, key: str, version_id: str | None = None) -> Iterator[bytes]:
        """The version's bytes in chunks. Raises StorageError."""
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
