"""Prometheus text exposition (format 0.0.4), written by hand, and the API's own metrics.

:class:`ApiMetrics` counts requests per route handler, method and status and keeps a latency
histogram per route handler; :func:`render` writes those plus every pluggable source
(recorder, storage, catalog, retention, exports) as one text document.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .ports import Metric

__all__ = ["PRIVATE_LABELS", "ApiMetrics", "MetricsMiddleware", "public", "render"]

PRIVATE_LABELS = frozenset({"camera"})
"""Labels that name what only authenticated callers may know: a sample carrying one is left out
of the open ``/metrics`` (whatever source made it) and served on ``/api/v1/metrics``."""

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


class ApiMetrics:
    """Request counters and latency histograms. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str, str], int] = defaultdict(int)
        self._hist: dict[str, list[int]] = {}
        self._sum: dict[str, float] = defaultdict(float)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        with self._lock:
            self._count[(route, method, str(status))] += 1
            h = self._hist.setdefault(route, [0] * (len(BUCKETS) + 1))
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    h[i] += 1
            h[-1] += 1
            self._sum[route] += seconds

    def samples(self) -> list[Metric]:
        """The current values."""
        out = []
        with self._lock:
            for (route, method, status), n in sorted(self._count.items()):
                out.append(Metric("archive_api_requests_total", "API requests by route, method and status", "counter",
                                  n, (("route", route), ("method", method), ("status", status))))  # fmt: skip
            for route, h in sorted(self._hist.items()):
                for i, b in enumerate(BUCKETS):
                    out.append(Metric("archive_api_request_seconds_bucket", "API request latency", "histogram", h[i],
                                      (("route", route), ("le", _num(b)))))  # fmt: skip
                out.append(Metric("archive_api_request_seconds_bucket", "API request latency", "histogram", h[-1],
                                  (("route", route), ("le", "+Inf"))))  # fmt: skip
                out.append(Metric("archive_api_request_seconds_count", "API request latency", "histogram", h[-1],
                                  (("route", route),)))  # fmt: skip
                out.append(Metric("archive_api_request_seconds_sum", "API request latency", "histogram",
                                  self._sum[route], (("route", route),)))  # fmt: skip
        return out


def _family(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name.startswith("archive_api_request_seconds"):
            return name[: -len(suffix)]
    return name


def public(samples: Iterable[Metric]) -> list[Metric]:
    """The samples without a :data:`PRIVATE_LABELS` label (what the open ``/metrics`` serves)."""
    return [m for m in samples if not any(k in PRIVATE_LABELS for k, _ in m.labels)]


def render(samples: Iterable[Metric]) -> str:
    """Text exposition; samples of one family are grouped under one HELP/TYPE header."""
    families: dict[str, list[Metric]] = {}
    for m in samples:
        if _NAME.match(m.name):
            families.setdefault(_family(m.name), []).append(m)
    lines: list[str] = []
    for fam, ms in families.items():
        lines.append(f"# HELP {fam} {ms[0].help.replace(chr(10), ' ')}")
        lines.append(f"# TYPE {fam} {ms[0].kind if ms[0].kind in ('counter', 'gauge', 'histogram') else 'untyped'}")
        for m in ms:
            labels = ",".join(f'{k}="{_label(v)}"' for k, v in m.labels)
            lines.append(f"{m.name}{{{labels}}} {_num(m.value)}" if labels else f"{m.name} {_num(m.value)}")
    return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Times every routed request and records it in ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            handler = scope.get("route_handler")
            name = getattr(handler, "handler_name", None) or "unknown"
            self.metrics.observe(str(name), str(scope.get("method", "?")), status[0], time.perf_counter() - started)
