"""Browser sessions: an opaque random id in a cookie, the user's token kept only in memory.

A session is created by a successful login with one of the user's API tokens: the identity
service authenticates the token on every request (a revoked token or user ends the session at
once). Each session has its own CSRF token, required on every form it posts. Sessions end after
``idle_s`` without a request, ``max_s`` after login, at logout, or when the process restarts.
The store is bounded: beyond ``max_sessions`` the one used longest ago is dropped.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["COOKIE", "LOGIN_COOKIE", "SessionStore", "WebSession", "same_token"]

COOKIE = "archive_session"
LOGIN_COOKIE = "archive_login"
"""The login form's own CSRF cookie (double submit: the form's hidden field must equal it)."""


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two CSRF tokens (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


@dataclass
class WebSession:
    """One logged-in browser (mutable: ``seen`` moves with each request). ``token`` is never logged."""

    token: str = field(repr=False)
    user_id: str
    csrf: str
    created: float
    seen: float


class SessionStore:
    """In-memory sessions of one process; thread-safe."""

    def __init__(self, *, idle_s: float = 1800, max_s: float = 12 * 3600, max_sessions: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._idle, self._max, self._cap, self._clock = idle_s, max_s, max_sessions, clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, WebSession] = OrderedDict()

    def create(self, token: str, user_id: str) -> tuple[str, WebSession]:
        """A new session for ``token``: (its cookie value, the session)."""
        sid = secrets.token_urlsafe(32)
        now = self._clock()
        session = WebSession(token=token, user_id=user_id, csrf=secrets.token_urlsafe(24), created=now, seen=now)
        with self._lock:
            self._items[sid] = session
            while len(self._items) > self._cap:
                self._items.popitem(last=False)
        return sid, session

    def get(self, sid: str | None) -> WebSession | None:
        """The live session of cookie value ``sid`` (None: unknown or expired, then forgotten)."""
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            session = self._items.get(sid)
            if session is None:
                return None
            if now - session.seen > self._idle or now - session.created > self._max:
                del self._items[sid]
                return None
            session.seen = now
            self._items.move_to_end(sid)
            return session

    def drop(self, sid: str | None) -> None:
        """End the session ``sid`` (logout); unknown ids are ignored."""
        with self._lock:
            self._items.pop(sid or "", None)
