"""``/health`` and ``/metrics`` (no authentication: status only, never evidence)."""

from __future__ import annotations

import logging
import time

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from archive.api.deps import ApiDeps
from archive.api.metrics import ApiMetrics, render
from archive.api.ports import CheckResult, Metric
from archive.api.schemas import HealthCheckOut, HealthOut
from archive.errors import ERRORS

__all__ = ["routes"]

log = logging.getLogger(__name__)


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


def routes(deps: ApiDeps, metrics: ApiMetrics) -> list[HTTPRouteHandler]:
    """``/health`` and ``/metrics`` bound to ``deps``."""

    @get("/health", sync_to_thread=True, summary="Liveness and readiness: catalog and pluggable checks")
    def health() -> Response[HealthOut]:
        checks = [_run(c) for c in deps.health_checks]
        try:
            deps.audit.size()
            checks.insert(0, CheckResult("catalog", True, "answers"))
        except ERRORS as exc:
            checks.insert(0, CheckResult("catalog", False, str(exc)))
        serving = all(c.ok for c in checks if c.critical)  # 503 only when evidence cannot be served
        body = HealthOut(ok=all(c.ok for c in checks),
                         checks=[HealthCheckOut(name=c.name, ok=c.ok, detail=c.detail) for c in checks])  # fmt: skip
        return Response(body, status_code=200 if serving else 503)

    @get("/metrics", sync_to_thread=True, summary="Prometheus metrics (text exposition 0.0.4)")
    def metrics_text() -> Response[str]:
        samples = [*metrics.samples(), *_audit_samples(deps)]
        for source in deps.metric_sources:
            try:
                samples.extend(source())
            except ERRORS as exc:
                log.warning("metrics source failed: %s", exc)
        return Response(render(samples), media_type="text/plain; version=0.0.4; charset=utf-8")

    return [health, metrics_text]
