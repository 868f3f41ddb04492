"""Security headers on every answer of the API (one ``before_send`` hook of the app, so errors,
404s and the gate's own 401/429/503 answers get them too).

The API serves JSON, HLS playlists, export packages and one script-free documentation page
(archive.api.docs), so one restrictive policy fits all: nothing is framed, nothing loaded from
anywhere, no referrer leaves. ``Cache-Control: no-store`` on every answer: tokens are issued in
answers, and almost every answer carries evidence metadata (cameras, recordings, audit, exports);
nothing of it may stay in a browser's or a proxy's cache. Pages mounted under a prefix
(:func:`security_headers`) get their own policy there (scripts and styles from the same origin only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

__all__ = ["SECURITY_HEADERS", "add_security_headers", "security_headers"]

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    ("Cache-Control", "no-store"),
)


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Set :data:`SECURITY_HEADERS` on the response start (replacing what a handler set)."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS:
        headers[name] = value


def security_headers(pages: tuple[str, str] | None) -> Callable[[Message, Scope], Awaitable[None]]:
    """The ``before_send`` hook: :data:`SECURITY_HEADERS` everywhere, except that answers under
    ``pages[0]`` (a path prefix) get the Content-Security-Policy ``pages[1]``."""
    if pages is None:
        return add_security_headers
    prefix, csp = pages

    async def hook(message: Message, scope: Scope) -> None:
        await add_security_headers(message, scope)
        path = scope.get("path", "")
        if message["type"] == "http.response.start" and (path == prefix or path.startswith(prefix + "/")):
            MutableScopeHeaders.from_message(message)["Content-Security-Policy"] = csp

    return hook
