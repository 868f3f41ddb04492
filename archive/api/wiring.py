"""The API's dependencies taken from the composition root (:class:`archive.bootstrap.Runtime`).

Every long-lived part (identity, search, audit trail, legal holds, retention, export parts,
ledger) is the runtime's one instance; this module only chooses which of them the app gets and
adds the health checks and metric sources of what the process runs (the recorder's status when
``archive up`` runs one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from archive.api.deps import ApiDeps, ApiSettings
from archive.api.media_links import load_link_key
from archive.api.ports import HealthCheck, MetricSource
from archive.api.status import (
    check_metrics,
    ledger_metrics,
    node_local_metrics,
    node_metrics,
    nodes_check,
    protection_metrics,
    recorder_check,
    recorder_metrics,
    storage_check,
    witness_metrics,
)
from archive.bootstrap import Runtime
from archive.config import ApiConfig
from archive.ledger.node_report import node_report
from archive.ledger.report import VerifyReport
from archive.ledger.verify import verify_camera
from archive.ledger.witnessing import witness_clients, witness_report
from archive.recorder.health import HealthLimits
from archive.recorder.status import RecorderStatus
from archive.retention.planner import Plan

__all__ = ["api_settings", "build_deps"]


def api_settings(cfg: ApiConfig, runtime: Runtime) -> ApiSettings:
    """The API settings of ``[api]`` (search bounds: the runtime's search service's). Raises ConfigError."""
    proxies = frozenset(p.strip() for p in cfg.trusted_proxies.split(",") if p.strip())
    return ApiSettings(display_timezone=cfg.display_timezone, presign_seconds=cfg.presign_seconds,
                       public_url=cfg.public_url,
                       token_days=cfg.token_days, token_max_days=cfg.token_max_days, trusted_proxies=proxies,
                       audit_checkpoint_seconds=cfg.audit_checkpoint_seconds,
                       verify_upload_max_bytes=cfg.verify_upload_max_bytes, failed_auth_limit=cfg.failed_auth_limit,
                       failed_auth_window_seconds=cfg.failed_auth_window_seconds,
                       limits=runtime.search.limits)  # fmt: skip


def build_deps(rt: Runtime, *, recorder_status: Callable[[], RecorderStatus] | None = None,
               retention_plan: Callable[[], Plan] | None = None, checkpoint_audit: bool = True,
               protections: Callable[[], Sequence[Mapping[str, object]]] | None = None,
               node_local: Callable[[], Mapping[str, object]] | None = None) -> ApiDeps:  # fmt: skip
    """Everything the API needs, from the runtime's parts.

    Starts (or attaches to) the store; reads (or makes) the media-link key. Raises ConfigError,
    CatalogError, StorageError, ToolError, SecretError.
    """
    store, ledger, retention = rt.store, rt.ledger, rt.retention

    def verifier(camera_id: str, lo: datetime | None, hi: datetime | None, media: bool) -> VerifyReport:
        return verify_camera(ledger, camera_id, time_from=lo, time_to=hi, media=media)

    storage = storage_check(store, writes=recorder_status)
    checks: list[HealthCheck] = [storage]
    sources: list[MetricSource] = [check_metrics("storage", storage),
                                   ledger_metrics(lambda: {s.camera_id: s.size for s in ledger.logs()})]
    if rt.config.ledger.witnesses:
        clients = witness_clients(rt.config.ledger.witnesses)
        sources.append(witness_metrics(lambda: witness_report(rt.engine, clients, rt.config.data_dir)))
    if recorder_status is not None:
        limits = HealthLimits.from_config(rt.config.recorder)
        checks.append(recorder_check(recorder_status, limits))
        sources.append(recorder_metrics(recorder_status, limits))
    if protections is not None:
        sources.append(protection_metrics(protections))
    if rt.config.node.name:  # a recorder node's API: the nodes' liveness (a dead node degrades /health by name)
        checks.append(nodes_check(lambda: node_report(rt.engine)))
        sources.append(node_metrics(lambda: node_report(rt.engine)))
        if node_local is not None:  # what the node published of itself: fenced cameras, spool it keeps
            sources.append(node_local_metrics(node_local))
    return ApiDeps(
        identity=rt.identity, search=rt.search, audit=rt.audit, settings=api_settings(rt.config.api, rt),
        registry=rt.registry, media=store, media_key=load_link_key(rt.config.data_dir / "keys" / "media-links.key"),
        holds=rt.holds,
        retention_plan=retention_plan or (lambda: retention.preview().plan), retention_policies=rt.policies.current,
        exports=rt.exports, verifier=verifier, health_checks=tuple(checks), metric_sources=tuple(sources),
        checkpoint_audit=checkpoint_audit,
    )  # fmt: skip
