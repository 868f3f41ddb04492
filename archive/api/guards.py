"""The one guard of ``/api/v1``: each route declares ``opt={"permission": ...}`` and the
caller's role must hold it (table: :mod:`archive.identity.policy`). A route that declares no
permission is refused for everyone (fail closed)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from archive.errors import ForbiddenError
from archive.identity.policy import Permission, require

from .context import principal_of

__all__ = ["permission_guard"]


def permission_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Return None when allowed. Raises UnauthenticatedError (no principal) or ForbiddenError."""
    who = principal_of(connection)
    perm = handler.opt.get("permission")
    if perm is None:
        raise ForbiddenError("this route declares no permission; refused")
    require(who, Permission(perm))
