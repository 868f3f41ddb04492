"""The gate of the pages: the API's :class:`~archive.api.gate.Gate` (audit, throttle, principal,
fail-closed audit), reading the session cookie instead of a bearer header, answering in HTML.

Routes that declare ``opt={"public": True}`` (the login form) pass without a session but are
still audited. Without a live session a page answers 303 to ``/ui/login`` (not audited, not
counted as a failed authentication: sessions end normally); a session whose token was revoked
since is refused like a revoked bearer token (audited, counted once): the session is dropped at
once and the answer is 303 to the login form with the cookie cleared, so the next loads are
plain "no session" (not counted again). Other refusals are an
HTML page with the status and message of the API's one error mapping (never a traceback).
"""

from __future__ import annotations

import html
from http.cookies import CookieError, SimpleCookie
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from archive.api.context import SCOPE_KEY, RequestContext, client_ip, context_of
from archive.api.deps import ApiDeps
from archive.api.errors import problem
from archive.api.gate import Gate
from archive.api.guards import permission_guard
from archive.api.throttle import FailedAuthThrottle
from archive.errors import ForbiddenError, UnauthenticatedError
from archive.redact import scrub

from .i18n import CATALOG, DEFAULT, LanguageChoices, translator
from .sessions import COOKIE, SessionStore, WebSession, same_token

__all__ = ["LANG_KEY", "SESSION_KEY", "WebGate", "cookie", "error_page", "page_guard", "require_csrf", "session_of"]

SESSION_KEY = "archive.web.session"
LANG_KEY = "archive.web.lang"
"""Scope key: the language of the session's user (:mod:`archive.web.i18n`), set with the session."""
LOGIN_PATH = "/ui/login"


def cookie(scope: Scope, name: str) -> str | None:
    """The value of cookie ``name`` of the request (None when absent or unparsable)."""
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                return None
            if name in jar:
                return jar[name].value
    return None


def page_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The API's permission guard, except for the ``public`` login form. Raises like it."""
    if not handler.opt.get("public"):
        permission_guard(connection, handler)


def session_of(request: Request[Any, Any, Any]) -> WebSession | None:
    """The request's live session (set by the gate), or None."""
    found = request.scope.get(SESSION_KEY)
    return found if isinstance(found, WebSession) else None


def require_csrf(request: Request[Any, Any, Any], presented: str | None) -> None:
    """Return when ``presented`` is the request's session CSRF token (constant-time compare).
    Raises ForbiddenError otherwise (no session, no token or another one): the form writes nothing."""
    session = session_of(request)
    if session is None or not same_token(presented, session.csrf):
        raise ForbiddenError("form without its CSRF token; refused")


def error_page(status: int, message: str, lang: str = DEFAULT) -> Response[str]:
    """A minimal HTML answer for a refusal (script-free; the message is escaped and scrubbed):
    a headline for the status in ``lang``, then the archive's own message (``#error-message``,
    as the API says it: data, marked ``translate="no"``)."""
    t = translator(lang)
    text = html.escape(scrub(message))
    head = html.escape(t(f"error.{status}" if f"error.{status}" in CATALOG else "error.other"))
    body = (f'<!doctype html><html lang="{html.escape(lang)}"><head><meta charset="utf-8"><title>{status} · '
            f'{head}</title><link rel="stylesheet" href="/ui/static/app.css"></head><body><main class="error">'
            f'<h1>{status} · {head}</h1><p>{html.escape(t("error.detail"))} <span id="error-message" '
            f'translate="no">{text}</span></p><p><a href="/ui/cameras">{html.escape(t("error.back"))}</a></p>'
            f"</main></body></html>")  # fmt: skip
    return Response(body, status_code=status, media_type="text/html")


class WebGate(Gate):
    """See the module docstring; ``sessions``: the pages' one session store; ``languages``: the
    users' language choices."""

    def __init__(self, app: ASGIApp, deps: ApiDeps, throttle: FailedAuthThrottle, sessions: SessionStore,
                 languages: LanguageChoices | None = None) -> None:  # fmt: skip
        super().__init__(app, deps, throttle)
        self.sessions = sessions
        self.languages = languages or LanguageChoices()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        if not getattr(handler, "opt", {}).get("public"):
            if self.credential(scope) is None:  # no or an ended session: not a failed login, not counted
                response = Response("", status_code=303, headers={"Location": LOGIN_PATH})
                await response.to_asgi_response(app=None, request=Request(scope, receive))(scope, receive, send)
                return
            await super().__call__(scope, receive, send)
            return
        ctx = RequestContext(client_ip=client_ip(scope, self.deps.settings.trusted_proxies))
        scope[SCOPE_KEY] = ctx  # type: ignore[literal-required]
        state = {"replaced": False}

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not await self._audit(scope, ctx, int(message["status"])):
                state["replaced"] = True
                await self._unavailable(scope, receive, send)
                return
            if not state["replaced"]:
                await send(message)

        await self.app(scope, receive, audited_send)

    def credential(self, scope: Scope) -> str | None:
        """The token of the request's live session (None: no session)."""
        session = self.sessions.get(cookie(scope, COOKIE))
        if session is None:
            return None
        scope[SESSION_KEY] = session  # type: ignore[literal-required]
        scope[LANG_KEY] = self.languages.of(session.user_id)  # type: ignore[literal-required]
        return session.token

    async def _respond(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive)
        status, body = problem(exc)
        context_of(request).error = str(body["message"])[:500]
        response: Response[Any]
        if isinstance(exc, UnauthenticatedError):  # the session's token or user was revoked: end it here
            self.sessions.drop(cookie(scope, COOKIE))
            response = Response("", status_code=303, headers={"Location": LOGIN_PATH},
                                cookies=[Cookie(key=COOKIE, value="", path="/ui", max_age=0, httponly=True,
                                                samesite="strict")])  # fmt: skip
        else:
            response = error_page(status, str(body["message"]), str(scope.get(LANG_KEY) or DEFAULT))
        await response.to_asgi_response(app=None, request=request)(scope, receive, send)
