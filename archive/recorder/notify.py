"""Optional webhook for an operator (``[alerts] webhook_url``): a POST of JSON whenever the
recorder's health changes (a problem starts or ends), not on every status refresh.

The body::

    {"source": "archive", "at": "2025-03-14T09:27:05.000000Z", "ok": false,
     "problems": ["camera cam-1 is not recording: ..."],   # every problem now
     "started": ["camera cam-1 is not recording: ..."],    # those new since the last POST
     "resolved": [{"subject": "cam-2", "kind": "backlog"}]} # those gone since the last POST

Delivery runs on its own thread, so a slow or dead webhook never delays recording or the status
file. A failed POST is retried (every ``retry_seconds``) with the newest health, so no change is
lost and an operator's last message is the current state. Nothing raises from :meth:`observe`;
failures are logged without the URL (it may hold a token).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Final
from urllib.parse import urlsplit

from archive.config import AlertsConfig
from archive.errors import ConfigError
from archive.recorder.health import RecorderHealth

log = logging.getLogger(__name__)
RETRY_S: Final = 10.0


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WebhookNotifier:
    """POSTs health changes to ``url``. Raises :class:`ConfigError` for a URL that is not http(s)."""

    def __init__(self, url: str, *, timeout: float = 5.0, retry_seconds: float = RETRY_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("alerts.webhook_url must be an http:// or https:// URL")
        self._url, self._timeout, self._retry = url, timeout, retry_seconds
        self._cond = threading.Condition()
        self._newest: tuple[RecorderHealth, dt.datetime] | None = None
        self._delivered: dict[tuple[str, str], str] = {}  # the state the operator was last told (none: well)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="health-webhook", daemon=True)
        self._thread.start()

    def observe(self, health: RecorderHealth, at: dt.datetime) -> None:
        """The health now; a POST follows if it differs from what was last delivered."""
        with self._cond:
            self._newest = (health, at)
            self._cond.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the delivery thread (a POST under way may finish within ``timeout``)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._newest is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                assert self._newest is not None
                health, at = self._newest
                self._newest = None
            state = health.state()
            if state.keys() == self._delivered.keys():
                continue
            if self._post(self._body(health, state, at)):
                self._delivered = state
                continue
            with self._cond:  # retry with whatever is newest by then
                if self._newest is None:
                    self._newest = (health, at)
                self._cond.wait(self._retry)

    def _body(self, health: RecorderHealth, state: dict[tuple[str, str], str], at: dt.datetime) -> bytes:
        started = [text for key, text in state.items() if key not in self._delivered]
        resolved = [{"subject": s, "kind": k} for (s, k) in self._delivered if (s, k) not in state]
        doc = {"source": "archive", "at": _iso(at), "ok": health.ok, "problems": list(health.problems),
               "started": started, "resolved": resolved}  # fmt: skip
        return json.dumps(doc).encode()

    def _post(self, body: bytes) -> bool:
        request = urllib.request.Request(self._url, data=body, method="POST",  # noqa: S310 - http(s) checked
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:  # noqa: S310 - http(s) checked
                if 200 <= resp.status < 300:
                    return True
                log.warning("health webhook answered HTTP %s; retrying", resp.status)
        except urllib.error.HTTPError as exc:
            log.warning("health webhook answered HTTP %s; retrying", exc.code)
        except (OSError, ValueError) as exc:
            log.warning("health webhook unreachable (%s); retrying", type(exc).__name__)
        return False


def webhook_notifier(cfg: AlertsConfig) -> WebhookNotifier | None:
    """The notifier of the ``[alerts]`` section, or None without a ``webhook_url``. Raises ConfigError."""
    if not cfg.webhook_url:
        return None
    return WebhookNotifier(cfg.webhook_url, timeout=cfg.webhook_timeout_seconds)
