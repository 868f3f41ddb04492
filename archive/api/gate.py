"""The gate of ``/api/v1``: authenticates every request and writes the audit trail.

For each request it (1) resolves the client address (trusted proxies only), (1b) refuses an
address that failed to authenticate ``[api] failed_auth_limit`` times within the window with a
429 before the identity store is asked, auditing only the first refusal of each burst as
``auth.throttled`` (archive.api.throttle), (2) checks the
``Authorization: Bearer <token>`` header - a missing, malformed, unknown, revoked or expired
token is answered 401 by the one error mapper and recorded as ``auth.failed`` - and (3) when
the response starts, appends the audit record of every route that declares an ``audit``
action: who, agency or owner, role, token id, when (UTC), from where, what (action, method,
path, path and query parameters, controller detail) and the result (status).

One request, one signed head: the request runs in a :class:`~archive.audit.sealing.SealScope`,
so the seals its changes ask for (a change note, a hold, a custody event) are deferred to the
response start, where the gate closes the scope and records the request's entry, whose seal
covers every entry the request committed before it; a request with nothing of its own to record
but a deferred seal is sealed there too. Nothing is sent before that seal returned.

Fail closed: if the audit record cannot be written or sealed, the response is replaced by a 503
and the body is not sent (evidence is never handed out unaudited).
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from archive.audit.entry import AuditRecord
from archive.audit.sealing import SealScope, deferring
from archive.errors import ERRORS, CatalogError, TooManyAttemptsError, UnauthenticatedError, UserError
from archive.identity.tokens import token_id_hint

from .context import SCOPE_KEY, RequestContext, client_ip
from .deps import ApiDeps
from .errors import handle_exception
from .throttle import FailedAuthThrottle

__all__ = ["Gate"]

log = logging.getLogger(__name__)
FAILED_LOGIN = "auth.failed"
THROTTLED = "auth.throttled"


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1").strip()
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


def _has_nul(scope: Scope) -> bool:
    """True when the decoded path or a decoded query value holds a NUL (no database takes it)."""
    if "\x00" in scope.get("path", ""):
        return True
    raw = scope.get("query_string", b"").decode("latin-1")
    return "%00" in raw or any("\x00" in k or "\x00" in v for k, v in parse_qsl(raw, keep_blank_values=True))


def _target(scope: Scope) -> dict[str, Any]:
    out: dict[str, Any] = {f"path.{k}": str(v) for k, v in (scope.get("path_params") or {}).items()}
    raw = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(raw, keep_blank_values=True):
        name = f"query.{key}"
        if name in out:
            prev = out[name]
            out[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[name] = value
    return out


class Gate:
    """ASGI middleware (see the module docstring); ``deps`` gives identity, audit, settings;
    ``throttle``: the app's one failed-authentication counter (shared by every route)."""

    def __init__(self, app: ASGIApp, deps: ApiDeps, throttle: FailedAuthThrottle) -> None:
        self.app = app
        self.deps = deps
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        with deferring() as seals:
            await self._gated(scope, receive, send, seals)

    async def _gated(self, scope: Scope, receive: Receive, send: Send, seals: SealScope) -> None:
        ctx = RequestContext(client_ip=client_ip(scope, self.deps.settings.trusted_proxies))
        scope[SCOPE_KEY] = ctx  # type: ignore[literal-required]
        state = {"replaced": False}

        async def gated_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if not await self._audit(scope, ctx, int(message["status"]), seals.close()):
                    state["replaced"] = True
                    await self._unavailable(scope, receive, send)
                    return
            elif state["replaced"]:
                return
            await send(message)

        blocked = self.throttle.check(ctx.client_ip)
        if blocked is not None:  # not one identity-store lookup for a guessing address
            ctx.throttled = THROTTLED if blocked.first else ""
            ctx.detail.update(failures=blocked.failures, retry_after_s=blocked.retry_after_s)
            await self._respond(
                scope,
                receive,
                gated_send,
                TooManyAttemptsError(
                    "too many failed authentications from this address; retry later", blocked.retry_after_s
                ),
            )
            return
        token = self.credential(scope)
        try:
            if not token:
                raise UnauthenticatedError("missing bearer token (Authorization: Bearer <token>)")
            ctx.principal = self.deps.identity.cached(token) or await anyio.to_thread.run_sync(
                self.deps.identity.authenticate, token
            )
        except UnauthenticatedError as exc:
            ctx.auth_failure, ctx.token_hint = str(exc), token_id_hint(token or "")
            self.throttle.failed(ctx.client_ip)
            await self._respond(scope, receive, gated_send, exc)
            return
        except ERRORS as exc:
            await self._respond(scope, receive, gated_send, exc)
            return
        scope["user"] = ctx.principal
        if _has_nul(scope):
            await self._respond(scope, receive, gated_send,
                                UserError("NUL characters are not allowed in paths or query parameters"))  # fmt: skip
            return
        await self.app(scope, receive, gated_send)

    def credential(self, scope: Scope) -> str | None:
        """The token the request presents (the bearer header); a subclass may read another place."""
        return _bearer(scope)

    async def _respond(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive)
        response = handle_exception(request, exc)
        await response.to_asgi_response(app=None, request=request)(scope, receive, send)

    async def _unavailable(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._respond(scope, receive, send,
                            CatalogError("the audit trail cannot be written; the request was refused"))  # fmt: skip

    async def _audit(self, scope: Scope, ctx: RequestContext, status: int, deferred: bool = False) -> bool:
        """Record (and seal) the request's entry; with none, seal what the request ``deferred``.
        False when that failed (the response must not be sent)."""
        handler = scope.get("route_handler")
        action = getattr(handler, "opt", {}).get("audit") if handler is not None else None
        if ctx.auth_failure is not None:
            action = FAILED_LOGIN
        if ctx.throttled is not None:  # one entry per burst: the first refusal's ("" for the rest)
            action = ctx.throttled or None
        if action is None:
            return not deferred or await self._seal(scope, status)
        record = self._record(scope, ctx, str(action), status)
        try:
            await anyio.to_thread.run_sync(self.deps.audit.record, record)
        except ERRORS as exc:
            log.error("audit record not written (%s %s -> %d): %s", record.method, record.path, status, exc)
            return False
        return True

    async def _seal(self, scope: Scope, status: int) -> bool:
        try:
            await anyio.to_thread.run_sync(self.deps.audit.seal)
        except ERRORS as exc:
            log.error(
                "audit entries of %s %s -> %d not sealed: %s", scope.get("method"), scope.get("path"), status, exc
            )
            return False
        return True

    @staticmethod
    def _record(scope: Scope, ctx: RequestContext, action: str, status: int) -> AuditRecord:
        who = ctx.principal
        detail = dict(ctx.detail)
        if ctx.error is not None and status >= 400:
            detail["error"] = ctx.error
        if ctx.auth_failure is not None:
            detail["reason"] = ctx.auth_failure
            handler = scope.get("route_handler")
            attempted = getattr(handler, "opt", {}).get("audit") if handler is not None else None
            if attempted:
                detail["attempted"] = attempted
        return AuditRecord(
            at_us=time.time_ns() // 1000, ip=ctx.client_ip, action=action, method=str(scope.get("method", "?")),
            path=scope.get("path", ""), status=status, actor=who.user_id if who else None,
            agency=who.agency if who else None, owner=who.owner_id if who else None,
            role=who.role.value if who else None, token=who.token_id if who else ctx.token_hint,
            target=_target(scope), detail=detail,
        )  # fmt: skip
