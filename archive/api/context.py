"""Per-request state shared by the gate middleware, the error mapper and the controllers.

The gate puts one :class:`RequestContext` into the ASGI scope; authentication fills the
principal (or the failure), controllers add audit detail, the error mapper the error text;
the gate writes the audit record from it when the response starts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection

from archive.errors import UnauthenticatedError
from archive.identity.model import Principal

__all__ = ["SCOPE_KEY", "RequestContext", "audit_detail", "client_ip", "context_of", "principal_of"]

SCOPE_KEY = "archive.ctx"


@dataclass
class RequestContext:
    """Mutable, one per request (never shared between requests)."""

    client_ip: str
    principal: Principal | None = None
    auth_failure: str | None = None
    token_hint: str | None = None
    error: str | None = None
    throttled: str | None = None
    """Set when the failed-login limit refused the request: the audit action, or "" (not audited)."""
    detail: dict[str, Any] = field(default_factory=dict)


def context_of(conn: ASGIConnection[Any, Any, Any, Any]) -> RequestContext:
    """The request's context (a fresh one if the gate did not run, e.g. outside /api/v1)."""
    ctx = conn.scope.get(SCOPE_KEY)
    if isinstance(ctx, RequestContext):
        return ctx
    ctx = RequestContext(client_ip=client_ip(conn.scope, frozenset()))
    conn.scope[SCOPE_KEY] = ctx  # type: ignore[literal-required]
    return ctx


def principal_of(conn: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The authenticated caller. Raises UnauthenticatedError when there is none."""
    who = context_of(conn).principal
    if who is None:
        raise UnauthenticatedError("authentication required")
    return who


def audit_detail(conn: ASGIConnection[Any, Any, Any, Any], **values: Any) -> None:
    """Add ``values`` to what the audit record of this request says."""
    context_of(conn).detail.update(values)


def _valid_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(scope: Any, trusted_proxies: frozenset[str]) -> str:
    """The caller's address: the socket peer, or - when the peer is a trusted proxy - the
    right-most address in ``X-Forwarded-For`` that is not itself a trusted proxy."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if peer not in trusted_proxies:
        return peer
    forwarded = ""
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded += ("," if forwarded else "") + value.decode("latin-1")
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        ip = _valid_ip(hop)
        if ip is None:
            return peer
        if ip not in trusted_proxies:
            return ip
    return peer
