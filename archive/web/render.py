"""What every page template gets: the user, what their role may do, the session's CSRF token."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from archive.api.context import context_of
from archive.api.errors import problem
from archive.identity.model import Principal
from archive.identity.policy import Permission, allowed

from .gate import error_page, session_of

__all__ = ["VERIFY_OPT", "can", "page", "page_error"]

VERIFY_OPT = "ui_verify"
"""Router option: True when the Verify and Exports pages are served (the API has exports)."""


def can(who: Principal | None, permission: Permission) -> bool:
    """True when ``who`` (confirmed) holds ``permission``."""
    return who is not None and who.confirmed and allowed(who.role, permission)


def page(request: Request[Any, Any, Any], name: str, *, status: int = 200, **values: Any) -> Template:
    """The template ``name`` with the common context plus ``values``."""
    who = context_of(request).principal
    session = session_of(request)
    context = {"who": who, "csrf": session.csrf if session else "", "zone": "Asia/Jakarta",
               "can_play": can(who, Permission.PLAYBACK), "can_recordings": can(who, Permission.RECORDINGS_READ),
               "can_verify": can(who, Permission.VERIFY) and bool(request.route_handler.opt.get(VERIFY_OPT)),
               "can_exports": can(who, Permission.EXPORTS_READ) and bool(request.route_handler.opt.get(VERIFY_OPT)),
               "can_audit": can(who, Permission.AUDIT_READ),
               **values}  # fmt: skip
    return Template(template_name=name, context=context, status_code=status)


def page_error(request: Request[Any, Any, Any], exc: Exception) -> Any:
    """Router exception handler: the API's status and message, as an HTML page."""
    status, body = problem(exc)
    context_of(request).error = str(body["message"])[:500]
    return error_page(status, str(body["message"]))
