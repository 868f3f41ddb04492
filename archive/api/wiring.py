"""Building :class:`ApiDeps` from a :class:`archive.bootstrap.Runtime` (the composition root).

Pluggable extras come in as arguments: the recorder's status, the retention plan and the
export service, when the process runs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from archive.api.deps import ApiDeps, ApiSettings
from archive.api.ports import ExportsPort, HealthCheck, MetricSource, Presigner
from archive.api.status import ledger_metrics, recorder_check, recorder_metrics, storage_check
from archive.audit.service import AuditTrail
from archive.bootstrap import Runtime
from archive.config import ApiConfig
from archive.identity.service import IdentityService
from archive.ledger.cli import ledger_settings
from archive.ledger.keyring import KeyRing
from archive.ledger.report import VerifyReport
from archive.ledger.service import Ledger
from archive.ledger.verify import verify_camera
from archive.recorder.status import RecorderStatus
from archive.retention.audit import AuditLog as RetentionAudit
from archive.retention.holds import HoldService
from archive.retention.planner import Plan
from archive.search.service import SearchLimits, SearchService

__all__ = ["api_settings", "build_deps"]

_DAY_US = 86_400_000_000


def _now_us() -> int:
    return time.time_ns() // 1000


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
    ledger = Ledger(engine, store, box, lset)
    audit = AuditTrail(engine, KeyRing(engine, box, lset), store, origin_prefix=lset.origin_prefix,
                       log_bucket=lset.log_bucket, retention=lset.log_retention)  # fmt: skip
    registry = rt.registry
    holds = HoldService(engine, store, RetentionAudit(engine, _now_us), now_us=_now_us,
                        known_camera=lambda c: any(x.id == c for x in registry.cameras()))  # fmt: skip

    def verifier(camera_id: str, lo: datetime | None, hi: datetime | None, media: bool) -> VerifyReport:
        return verify_camera(ledger, camera_id, time_from=lo, time_to=hi, media=media)

    checks: list[HealthCheck] = [storage_check(store)]
    sources: list[MetricSource] = [ledger_metrics(lambda: {s.camera_id: s.size for s in ledger.logs()})]
    if recorder_status is not None:
        checks.append(recorder_check(recorder_status))
        sources.append(recorder_metrics(recorder_status))
    settings = api_settings(cfg.api)
    return ApiDeps(
        identity=IdentityService(engine, cache_seconds=cfg.api.token_cache_seconds),
        search=SearchService(engine, settings.limits), audit=audit, settings=settings, registry=registry,
        presigner=store if isinstance(store, Presigner) else None, holds=holds, retention_plan=retention_plan,
        exports=exports, verifier=verifier, health_checks=tuple(checks), metric_sources=tuple(sources),
        checkpoint_audit=checkpoint_audit,
    )  # fmt: skip
