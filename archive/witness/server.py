"""The witness's HTTP server (standard library, one thread per connection, keep-alive).

``POST /add-checkpoint`` (c2sp.org/tlog-witness; :mod:`.service` decides) and ``GET /healthz``
(``{"ok": true, "logs": n}``). Any other path is 404, any other method 405, a body over 64 KiB
or without ``Content-Length`` 400/413: every error is JSON ``{"error": ...}``, never a traceback.
A connection silent for 30 s is closed.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .protocol import MAX_BODY
from .service import Reply, WitnessService

__all__ = ["WitnessServer"]

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may stay silent (a slow or idle client does not hold a thread)
    server_version = "archive-witness"
    sys_version = ""

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def do_POST(self) -> None:
        if self.path != "/add-checkpoint":
            self._send(Reply.error(404, f"no such endpoint: POST {self.path[:100]}"))
            return
        length = self.headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()):  # "²".isdigit() is True
            self.close_connection = True
            self._send(Reply.error(400, "a Content-Length header is needed"))
            return
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._send(Reply.error(413, f"the request body is larger than {MAX_BODY} bytes"))
            return
        body = self.rfile.read(int(length))
        try:
            reply = self.server.service.add_checkpoint(body)
        except OSError as exc:
            log.error("witness state not written: %s", exc)
            reply = Reply.error(503, "the witness cannot persist its state; nothing was cosigned")
        self._send(reply)

    def do_GET(self) -> None:
        if self.path != "/healthz":
            self._send(Reply.error(404, f"no such endpoint: GET {self.path[:100]}"))
            return
        doc = {"ok": True, "logs": len(self.server.service.state.heads())}
        self._send(Reply(200, "application/json", json.dumps(doc).encode() + b"\n"))

    def _not_allowed(self) -> None:
        self._send(Reply.error(405, f"method {self.command} is not allowed"))

    do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)


class WitnessServer(ThreadingHTTPServer):
    """Serves one :class:`WitnessService` on ``(host, port)`` (port 0: any free port)."""

    daemon_threads = True

    def __init__(self, service: WitnessService, host: str, port: int) -> None:
        self.service = service
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        """``http://host:port`` actually bound."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"
