"""Status: the open ``/health`` and ``/metrics`` (no authentication: aggregate status only, never
a camera id nor evidence) and, behind authentication (admin, auditor: permission ``status.read``),
``/api/v1/health`` and ``/api/v1/metrics`` with the per-camera details.

Both pairs are rendered here, from the same checks and samples: the open ones drop what a
sample's :data:`archive.api.metrics.PRIVATE_LABELS` label (``camera``) or a check's ``cameras``
carries, whatever source produced it.
"""

from __future__ import annotations

import logging
import time

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from archive.api.deps import ApiDeps
from archive.api.metrics import ApiMetrics, public, render
from archive.api.ports import CheckResult, Metric
from archive.api.schemas import HealthCheckOut, HealthOut
from archive.errors import ERRORS
from archive.identity.policy import Permission

__all__ = ["api_routes", "routes"]

log = logging.getLogger(__name__)
_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def _run(check: object) -> CheckResult:
    try:
        result = check()  # type: ignore[operator]
    except ERRORS as exc:
        return CheckResult(getattr(check, "__name__", "check"), False, str(exc))
    if not isinstance(result, CheckResult):
        return CheckResult(getattr(check, "__name__", "check"), False, "check returned no result")
    return result


def _audit_samples(deps: ApiDeps) -> list[Metric]:
    try:
        size = deps.audit.size()
        head = deps.audit.latest()
    except ERRORS as exc:
        log.warning("metrics: audit trail unreadable: %s", exc)
        return [Metric("archive_catalog_up", "1 when the catalog answers", "gauge", 0)]
    out = [Metric("archive_catalog_up", "1 when the catalog answers", "gauge", 1),
           Metric("archive_audit_entries", "entries in the audit trail", "gauge", size)]  # fmt: skip
    if head is not None:
        out.append(Metric("archive_audit_signed_entries", "entries covered by the latest signed audit checkpoint",
                          "gauge", head.size))  # fmt: skip
        if head.signed_us:
            out.append(Metric("archive_audit_checkpoint_age_seconds", "age of the latest signed audit checkpoint",
                              "gauge", max(0.0, time.time() - head.signed_us / 1e6)))  # fmt: skip
    return out


def _health(deps: ApiDeps, *, cameras: bool) -> Response[HealthOut]:
    checks = [_run(c) for c in deps.health_checks]
    try:
        deps.audit.size()
        checks.insert(0, CheckResult("catalog", True, "answers"))
    except ERRORS as exc:
        checks.insert(0, CheckResult("catalog", False, str(exc)))
    serving = all(c.ok for c in checks if c.critical)  # 503 only when evidence cannot be served
    body = HealthOut(ok=all(c.ok for c in checks),
                     checks=[HealthCheckOut(name=c.name, ok=c.ok, detail=c.detail,
                                            cameras=dict(c.cameras) if cameras and c.cameras else None)
                             for c in checks])  # fmt: skip
    return Response(body, status_code=200 if serving else 503)


def _metrics(deps: ApiDeps, metrics: ApiMetrics, *, cameras: bool) -> Response[str]:
    samples = [*metrics.samples(), *_audit_samples(deps)]
    for source in deps.metric_sources:
        try:
            samples.extend(source())
        except ERRORS as exc:
            log.warning("metrics source failed: %s", exc)
    return Response(render(samples if cameras else public(samples)), media_type=_PROMETHEUS)


def routes(deps: ApiDeps, metrics: ApiMetrics) -> list[HTTPRouteHandler]:
    """The open ``/health`` and ``/metrics`` bound to ``deps`` (no camera ids)."""

    @get("/health", sync_to_thread=True, summary="Liveness and readiness: catalog and pluggable checks (no camera ids)")
    def health() -> Response[HealthOut]:
        return _health(deps, cameras=False)

    @get("/metrics", sync_to_thread=True, summary="Prometheus metrics (text exposition 0.0.4), aggregates only")
    def metrics_text() -> Response[str]:
        return _metrics(deps, metrics, cameras=False)

    return [health, metrics_text]


def api_routes(deps: ApiDeps, metrics: ApiMetrics) -> list[HTTPRouteHandler]:
    """``/api/v1/health`` and ``/api/v1/metrics`` (admin, auditor): with per-camera details.
    Not audited (scraped every few seconds; they serve status, not evidence); a refused
    token is, like everywhere behind the gate."""
    opt = {"permission": Permission.STATUS_READ.value}

    @get("/health", sync_to_thread=True, opt=opt, summary="Health with per-camera states (admin, auditor)")
    def health_detail() -> Response[HealthOut]:
        return _health(deps, cameras=True)

    @get("/metrics", sync_to_thread=True, opt=opt,
         summary="Prometheus metrics with per-camera series (admin, auditor: bearer token)")  # fmt: skip
    def metrics_detail() -> Response[str]:
        return _metrics(deps, metrics, cameras=True)

    return [health_detail, metrics_detail]
