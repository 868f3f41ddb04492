"""Connection limits of the API server: one place where every uvicorn server is configured.

uvicorn bounds idle keep-alive time (``timeout_keep_alive``), concurrent requests
(``limit_concurrency``, answered 503), the request head's size (``h11_max_incomplete_event_size``)
and the listen backlog, but nothing bounds how long a client may take to send its request head,
nor how many connections are open: 1,100 idle sockets exhaust a 1,024-descriptor process.
:class:`BoundedH11Protocol` adds both: a connection beyond ``max_connections`` is closed as it is
accepted, and one that has not delivered a complete request head ``header_timeout`` seconds after
it opened (or after its previous answer) is closed (slowloris).

uvicorn never rewrites the client address from ``X-Forwarded-For`` (``proxy_headers=False``): the
app's ``[api] trusted_proxies`` (archive.api.context.client_ip) is the only place it is believed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from archive.config import ApiConfig

__all__ = ["BoundedH11Protocol", "ServerConfig", "ServerLimits", "server_config"]


@dataclass(frozen=True)
class ServerLimits:
    """What one API process tolerates from its clients (``[api]``, see archive/config.py)."""

    max_connections: int = 512
    limit_concurrency: int = 256
    backlog: int = 128
    keepalive_seconds: int = 5
    header_timeout_seconds: float = 10.0
    max_header_bytes: int = 16384

    @classmethod
    def of(cls, api: ApiConfig) -> ServerLimits:
        """The limits configured in ``[api]``."""
        return cls(max_connections=api.max_connections, limit_concurrency=api.limit_concurrency,
                   backlog=api.backlog, keepalive_seconds=api.keepalive_seconds,
                   header_timeout_seconds=api.header_timeout_seconds,
                   max_header_bytes=api.max_header_bytes)  # fmt: skip


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus :class:`ServerLimits` (pickled to worker processes with it)."""

    def __init__(self, app: Any, limits: ServerLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.archive_limits = limits


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and a request-head deadline (module docstring)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limits = getattr(config, "archive_limits", None)
        self._limits = limits if isinstance(limits, ServerLimits) else ServerLimits()
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Close at once when the process already holds ``max_connections``; else arm the deadline."""
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            transport.abort()
            return
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline with the connection."""
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        """A complete request head disarms the deadline (until the answer is complete)."""
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._cancel_head_deadline()

    def on_response_complete(self) -> None:
        """The next request head must arrive in time too."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self._limits.header_timeout_seconds, self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def server_config(app: Any, host: str, port: int, limits: ServerLimits, *, workers: int = 1,
                  factory: bool = False) -> ServerConfig:  # fmt: skip
    """The uvicorn configuration of every API server this package starts (no proxy headers)."""
    return ServerConfig(app, limits, host=host, port=port, workers=workers, factory=factory,
                        http=BoundedH11Protocol, proxy_headers=False, forwarded_allow_ips=[],
                        limit_concurrency=limits.limit_concurrency, backlog=limits.backlog,
                        timeout_keep_alive=limits.keepalive_seconds,
                        h11_max_incomplete_event_size=limits.max_header_bytes,
                        server_header=False, log_level="warning", access_log=False)  # fmt: skip
