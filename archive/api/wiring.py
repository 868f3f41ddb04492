"""Building :class:`ApiDeps` from a :class:`archive.bootstrap.Runtime` (the composition root).

Legal holds and the retention plan come from the retention service (issue 5,
:func:`archive.retention.factory.build_service`); the plan is its preview (nothing deleted).
Pluggable extras come in as arguments: the recorder's status, another plan source and the
export service, when the process runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from archive.api.deps import ApiDeps, ApiSettings
from archive.api.ports import ExportsPort, HealthCheck, MetricSource, Presigner
from archive.api.status import check_metrics, ledger_metrics, recorder_check, recorder_metrics, storage_check
from archive.audit.service import AuditTrail
from archive.bootstrap import Runtime
from archive.config import ApiConfig
from archive.identity.service import IdentityService
from archive.ledger.cli import ledger_settings
from archive.ledger.keyring import KeyRing
from archive.ledger.report import VerifyReport
from archive.ledger.verify import verify_camera
from archive.recorder.health import HealthLimits
from archive.recorder.status import RecorderStatus
from archive.retention.factory import build_service as build_retention
from archive.retention.planner import Plan
from archive.retention.settings import RetentionSettings
from archive.search.service import SearchLimits, SearchService

__all__ = ["api_settings", "build_deps"]

_DAY_US = 86_400_000_000


def api_settings(cfg: ApiConfig) -> ApiSettings:
    """The API settings of ``[api]``. Raises ConfigError."""
    proxies = frozenset(p.strip() for p in cfg.trusted_proxies.split(",") if p.strip())
    limits = SearchLimits(max_range_us=cfg.max_range_days * _DAY_US, page_max=cfg.page_max,
                          page_default=min(500, cfg.page_max))  # fmt: skip
    return ApiSettings(display_timezone=cfg.display_timezone, presign_seconds=cfg.presign_seconds,
                       token_days=cfg.token_days, token_max_days=cfg.token_max_days, trusted_proxies=proxies,
                       audit_checkpoint_seconds=cfg.audit_checkpoint_seconds, limits=limits)  # fmt: skip


def build_deps(rt: Runtime, *, recorder_status: Callable[[], RecorderStatus] | None = None,
               retention_plan: Callable[[], Plan] | None = None, exports: ExportsPort | None = None,
               checkpoint_audit: bool = True) -> ApiDeps:  # fmt: skip
    """Everything the API needs, from the runtime's catalog, store and keys.

    Starts the embedded store if the runtime has not yet. Raises ConfigError, CatalogError,
    StorageError, ToolError, SecretError.
    """
    cfg = rt.config
    engine, box, store = rt.engine, rt.secret_box, rt.store
    lset = ledger_settings(cfg)
    ledger = rt.ledger  # one Ledger per process: its per-log locks must be shared
    audit = AuditTrail(engine, KeyRing(engine, box, lset), store, origin_prefix=lset.origin_prefix,
                       log_bucket=lset.log_bucket, retention=lset.log_retention)  # fmt: skip
    registry = rt.registry
    retention = build_retention(engine=engine, store=store, ledger=ledger, cameras=registry.cameras,
                                settings=RetentionSettings.from_config(cfg))  # fmt: skip

    def verifier(camera_id: str, lo: datetime | None, hi: datetime | None, media: bool) -> VerifyReport:
        return verify_camera(ledger, camera_id, time_from=lo, time_to=hi, media=media)

    storage = storage_check(store)
    checks: list[HealthCheck] = [storage]
    sources: list[MetricSource] = [check_metrics("storage", storage),
                                   ledger_metrics(lambda: {s.camera_id: s.size for s in ledger.logs()})]
    if recorder_status is not None:
        limits = HealthLimits.from_config(cfg.recorder)
        checks.append(recorder_check(recorder_status, limits))
        sources.append(recorder_metrics(recorder_status, limits))
    settings = api_settings(cfg.api)
    return ApiDeps(
        identity=IdentityService(engine, cache_seconds=cfg.api.token_cache_seconds),
        search=SearchService(engine, settings.limits, cache_seconds=cfg.api.scope_cache_seconds), audit=audit,
        settings=settings, registry=registry,
        presigner=store if isinstance(store, Presigner) else None, holds=retention.holds,
        retention_plan=retention_plan or (lambda: retention.preview().plan),
        exports=exports, verifier=verifier, health_checks=tuple(checks), metric_sources=tuple(sources),
        checkpoint_audit=checkpoint_audit,
    )  # fmt: skip
