"""The app factory: :func:`create_app` builds the Litestar app from explicit dependencies.

Layout: ``/api/v1/...`` (bearer token, one permission per route, audited), ``/health`` and
``/metrics`` (open, aggregate status only, no camera ids; the per-camera status is
``/api/v1/health`` and ``/api/v1/metrics``), ``/play/segment`` (no token: the signed media link
minted by the authorized playback routes is the authority, :mod:`archive.api.media_links`),
OpenAPI at ``/schema`` (``/schema/openapi.json``).
Every answer, errors and 404s included, carries the security headers of :mod:`archive.api.headers`.

``create_app(deps, pages=factory)`` also mounts browser pages (``archive.web``): the factory gets the
same dependencies and the app's one failed-authentication throttle and returns :class:`Pages`, whose
routes get their own Content-Security-Policy (the API's forbids every script).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from litestar import Litestar, Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import PluginProtocol
from litestar.template import TemplateConfig
from litestar.types import ASGIApp, ControllerRouterHandler

from archive.api.deps import ApiDeps
from archive.api.docs import docs_plugins
from archive.api.errors import handle_exception
from archive.api.gate import Gate
from archive.api.guards import permission_guard
from archive.api.headers import security_headers
from archive.api.media_links import MediaLinks
from archive.api.metrics import ApiMetrics, MetricsMiddleware
from archive.api.routes import audit, cameras, exports, holds, meta, playback, recordings, retention, users, verify
from archive.api.routes import media as media_route
from archive.api.throttle import FailedAuthThrottle
from archive.audit.signer import AuditCheckpointer

__all__ = ["API_PREFIX", "PageFactory", "Pages", "api_routes", "create_app"]

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pages:
    """Browser pages mounted beside the API: their handlers (routers), the path ``prefix`` they all
    sit under, the Content-Security-Policy of every answer under it, the template engine, plugins."""

    handlers: Sequence[ControllerRouterHandler]
    prefix: str
    csp: str
    template_config: TemplateConfig | None = None  # type: ignore[type-arg]
    plugins: Sequence[PluginProtocol] = field(default_factory=tuple)


PageFactory = Callable[[ApiDeps, FailedAuthThrottle], Pages]
"""Builds the pages from the API's dependencies and its failed-authentication throttle."""


def api_routes(deps: ApiDeps, metrics: ApiMetrics | None = None) -> list[HTTPRouteHandler]:
    """Every ``/api/v1`` handler the given dependencies support (``metrics``: the app's request
    metrics, for ``/api/v1/metrics``)."""
    handlers = [*users.routes(deps), *cameras.routes(deps), *recordings.routes(deps), *audit.routes(deps),
                *meta.api_routes(deps, metrics or ApiMetrics())]
    if deps.media is not None:
        handlers += playback.routes(deps, MediaLinks(deps.media_key))
    if deps.holds is not None:
        handlers += holds.routes(deps, deps.holds)
    if deps.retention_plan is not None:
        handlers += retention.routes(deps, deps.retention_plan)
    if deps.exports is not None:
        handlers += exports.routes(deps, deps.exports)
    if deps.verifier is not None:
        handlers += verify.routes(deps, deps.verifier)
    return handlers


def create_app(deps: ApiDeps, pages: PageFactory | None = None) -> Litestar:
    """The API app (plus ``pages``, see the module docstring). With ``deps.checkpoint_audit``
    the audit checkpointer runs from startup to shutdown (a last checkpoint is signed at shutdown).
    Raises CatalogError when
    ``checkpoint_audit`` is set but the audit trail has no store."""
    metrics = ApiMetrics()
    checkpointer: AuditCheckpointer | None = None
    if deps.checkpoint_audit:
        checkpointer = deps.audit.checkpointer(deps.settings.audit_checkpoint_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if checkpointer is not None:
            checkpointer.start()
        try:
            yield
        finally:
            if checkpointer is not None:
                checkpointer.stop()

    throttle = FailedAuthThrottle(deps.settings.failed_auth_limit, deps.settings.failed_auth_window_seconds)

    def gate(app: ASGIApp) -> ASGIApp:  # a closure: Litestar deep-copies routers, deps must not be copied
        return Gate(app, deps, throttle)

    api = Router(path=API_PREFIX, route_handlers=api_routes(deps, metrics), guards=[permission_guard],
                 middleware=[gate], security=[{"bearer": []}], tags=["evidence"])  # fmt: skip
    openapi = OpenAPIConfig(
        title="archive evidence API", version="1", path="/schema",
        description="Forensic CCTV archive of the Mojokerto command center. Times are ISO 8601 with offset; "
                    "answers show UTC beside Asia/Jakarta. Every request touching evidence is audited.",
        components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
        render_plugins=docs_plugins(),
    )  # fmt: skip
    mounted = pages(deps, throttle) if pages is not None else None
    return Litestar(
        route_handlers=[api, *meta.routes(deps, metrics),
                        *(media_route.routes(deps, deps.media) if deps.media is not None else []),
                        *(mounted.handlers if mounted else ())],
        exception_handlers={Exception: handle_exception},
        middleware=[lambda app: MetricsMiddleware(app, metrics)],
        openapi_config=openapi,
        lifespan=[lifespan],
        before_send=[security_headers((mounted.prefix, mounted.csp) if mounted else None)],
        template_config=mounted.template_config if mounted else None,
        plugins=list(mounted.plugins) if mounted else [],
        debug=False,
    )
