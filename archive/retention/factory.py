"""Building the retention parts from their collaborators (called by the composition root and the CLI).

- :func:`upload_retention`: the Ingester's ``retention`` callback (lock at upload = owner policy).
- :func:`build_service`: the :class:`~archive.retention.service.RetentionService` (holds, audit,
  executor, usage probe) over an engine, a store and the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine

from archive.model import Camera, us_from_utc
from archive.retention.audit import AuditLog
from archive.retention.executor import PruneLog
from archive.retention.holds import HoldService
from archive.retention.service import RetentionService
from archive.retention.settings import RetentionSettings
from archive.retention.upload import PolicyStore, UploadRetention
from archive.retention.usage import UsageProbe, catalog_usage, disk_usage
from archive.storage.base import ObjectStore


def _utc_now() -> datetime:
    return datetime.now(UTC)


def upload_retention(settings: RetentionSettings, cameras: Callable[[], Sequence[Camera]],
                     policies: PolicyStore | None = None) -> UploadRetention:  # fmt: skip
    """The ``RetentionPolicy`` for :class:`archive.recorder.ingest.Ingester`. Never raises."""
    return UploadRetention(policies or PolicyStore(settings.policies_dir), cameras, mode=settings.lock_mode,
                           default_keep_days=settings.default_keep_days)  # fmt: skip


def usage_probe(settings: RetentionSettings, engine: Engine) -> UsageProbe | None:
    """Configured capacity -> catalog bytes against it; else the disk of ``usage_path``."""
    if settings.capacity_bytes > 0:
        return catalog_usage(engine, settings.capacity_bytes)
    return disk_usage(settings.usage_path) if settings.usage_path is not None else None


def build_service(
    *,
    engine: Engine,
    store: ObjectStore,
    ledger: PruneLog,
    cameras: Callable[[], Sequence[Camera]],
    settings: RetentionSettings,
    now: Callable[[], datetime] = _utc_now,
    usage: UsageProbe | None = None,
    policies: PolicyStore | None = None,
) -> RetentionService:
    """A retention service; ``usage`` defaults to :func:`usage_probe`. Raises nothing itself."""

    def now_us() -> int:
        return us_from_utc(now())

    def known(camera_id: str) -> bool:
        return any(c.id == camera_id for c in cameras())

    audit = AuditLog(engine, now_us)
    holds = HoldService(engine, store, audit, now_us=now_us, known_camera=known, workers=settings.delete_workers)
    return RetentionService(
        engine=engine, store=store, ledger=ledger, cameras=cameras,
        policies=policies or PolicyStore(settings.policies_dir), holds=holds, audit=audit,
        usage=usage if usage is not None else usage_probe(settings, engine), settings=settings, now=now,
    )  # fmt: skip
