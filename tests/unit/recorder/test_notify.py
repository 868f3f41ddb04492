"""The operator webhook against a real local HTTP server: one POST per change of health, none
while a problem merely lasts, retried while the webhook is down."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from archive.errors import ConfigError
from archive.recorder.health import HealthLimits, assess
from archive.recorder.notify import WebhookNotifier
from archive.recorder.status import CameraState

from .test_health import T0, camera, status


class Hook:
    """A webhook receiver on loopback; ``fail`` > 0 answers that many POSTs with 500."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        self.fail = 0
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.fail > 0:
                    hook.fail -= 1
                    self.send_response(500)
                else:
                    hook.bodies.append(json.loads(data))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=s3cret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.bodies) >= n, self.bodies


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


def test_one_post_per_change_of_health(hook: Hook) -> None:
    notifier = WebhookNotifier(hook.url, retry_seconds=0.1)
    limits = HealthLimits()
    gone = camera(state=CameraState.RECONNECTING, last_exit="camera_unreachable: connection refused by h:554")
    try:
        notifier.observe(assess(status(camera(), at=1), limits), T0)  # well from the start: nothing to say
        notifier.observe(assess(status(gone, at=20), limits), T0)
        hook.wait(1)
        notifier.observe(assess(status(gone, at=40), limits), T0)  # the same problem, only longer
        time.sleep(0.3)
        assert len(hook.bodies) == 1
        down = hook.bodies[0]
        assert down["ok"] is False and down["resolved"] == []
        assert down["started"] == down["problems"] and len(down["problems"]) == 1  # type: ignore[arg-type]
        assert "camera cam-1 is not recording" in str(down["problems"])
        back = replace(camera(), last_segment_at=T0 + dt.timedelta(seconds=50))
        notifier.observe(assess(status(back, at=52), limits), T0)
        hook.wait(2)
        assert hook.bodies[1] == {"source": "archive", "at": "2025-03-01T12:00:00.000000Z", "ok": True,
                                  "problems": [], "started": [], "resolved": [
                                      {"subject": "cam-1", "kind": "not_recording"}]}  # fmt: skip
    finally:
        notifier.close()


def test_a_failed_post_is_retried_with_the_newest_health(hook: Hook) -> None:
    hook.fail = 2
    notifier = WebhookNotifier(hook.url, retry_seconds=0.1)
    try:
        notifier.observe(assess(status(camera(), store=False), HealthLimits()), T0)
        hook.wait(1)
        assert hook.bodies[0]["started"] == ["object store unreachable: connection refused"]
    finally:
        notifier.close()


def test_a_webhook_that_is_not_http_is_refused() -> None:
    with pytest.raises(ConfigError):
        WebhookNotifier("file:///etc/passwd")
