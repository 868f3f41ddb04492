"""Attacks on the served API (issue 14 items 9, 10, 13): ``archive api serve`` as a real process,
uvicorn on a loopback socket, every loop bounded in count and time.

- a failed-token burst is answered 429 (JSON, ``Retry-After``) after ``api.failed_auth_limit``
  failures, and the audit trail gets one ``auth.throttled`` entry per burst, not one per request;
- ``X-Forwarded-For`` from a peer that is not a trusted proxy is not believed (uvicorn must not
  rewrite the client address before the app's ``[api] trusted_proxies`` logic);
- every answer carries the security headers, token answers ``Cache-Control: no-store``;
- a connection that never completes its request head is closed by the server.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from archive.audit.query import AuditFilter
from archive.bootstrap import Runtime
from archive.cli import main
from archive.config import load_config
from tests.fixtures.ports import free_port


@dataclass(frozen=True)
class Served:
    base: str
    config: Path
    admin: dict[str, str]
    proc: subprocess.Popen[bytes]


def _token(cfg: Path, user: str, role: str) -> str:
    assert main(["--config", str(cfg), "users", "add", user, "--role", role, "--agency", "diskominfo"],
                out=io.StringIO()) == 0
    out = io.StringIO()
    assert main(["--config", str(cfg), "tokens", "create", user], out=out) == 0
    return out.getvalue().splitlines()[0]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    cfg = tmp_path / "archive.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    admin = {"Authorization": f"Bearer {_token(cfg, 'adm', 'admin')}"}
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    argv = [sys.executable, "-m", "archive", "--config", str(cfg), "api", "serve", "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Served(base, cfg, admin, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = proc.stdout.read().decode() if proc.stdout else ""
    assert "Traceback" not in log, log


def _audit(cfg: Path, action: str) -> list[dict[str, object]]:
    with Runtime(load_config(cfg)) as rt:
        return [{"ip": e.record.ip, "status": e.record.status, "detail": e.record.detail}
                for e in rt.audit.events(AuditFilter(action=action, limit=1000))]


def test_failed_token_burst_is_answered_429_with_one_audit_entry(served: Served) -> None:
    bad = {"Authorization": "Bearer arc_not-a-real-token"}
    statuses: list[int] = []
    throttled: list[httpx.Response] = []
    with httpx.Client(base_url=served.base, timeout=10) as client:
        for _ in range(60):  # bounded: default limit 10 failures per 60 s
            r = client.get("/api/v1/cameras", headers=bad)
            statuses.append(r.status_code)
            if r.status_code == 429:
                throttled.append(r)
        # a valid token from the throttled address is refused too, before the identity store is asked
        during = client.get("/api/v1/me", headers=served.admin)
    assert statuses[:10] == [401] * 10, statuses
    assert statuses[10:] == [429] * 50, statuses
    first = throttled[0]
    assert first.headers["content-type"].startswith("application/json")
    assert 1 <= int(first.headers["retry-after"]) <= 60
    assert "too many failed authentications" in first.json()["message"]
    assert during.status_code == 429
    assert len(_audit(served.config, "auth.failed")) == 10
    bursts = _audit(served.config, "auth.throttled")
    assert len(bursts) == 1, bursts
    assert bursts[0]["ip"] == "127.0.0.1" and bursts[0]["status"] == 429


def test_x_forwarded_for_from_an_untrusted_peer_is_not_believed(served: Served) -> None:
    forged = {"Authorization": "Bearer arc_forged", "X-Forwarded-For": "203.0.113.9"}
    assert httpx.get(f"{served.base}/api/v1/cameras", headers=forged, timeout=10).status_code == 401
    me = httpx.get(f"{served.base}/api/v1/me", headers={**served.admin, "X-Forwarded-For": "203.0.113.9"},
                   timeout=10)
    assert me.status_code == 200
    failed = _audit(served.config, "auth.failed")
    assert [e["ip"] for e in failed] == ["127.0.0.1"], failed


def test_every_answer_carries_security_headers(served: Served) -> None:
    with httpx.Client(base_url=served.base, timeout=60) as client:  # a first audited write after a start can stall
        answers = {
            "health": client.get("/health"),
            "docs": client.get("/schema"),
            "unauthenticated": client.get("/api/v1/cameras"),
            "cameras": client.get("/api/v1/cameras", headers=served.admin),
            "token": client.post("/api/v1/users/adm/tokens", headers=served.admin, json={}),
        }
    assert answers["token"].status_code == 201, answers["token"].text
    assert answers["token"].json()["token"]
    for name, r in answers.items():
        h = r.headers
        assert h.get("x-content-type-options") == "nosniff", name
        assert h.get("referrer-policy") == "no-referrer", name
        assert h.get("x-frame-options") == "DENY", name
        assert "default-src 'none'" in h.get("content-security-policy", ""), name
        assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), name
    for name in ("token", "cameras", "unauthenticated"):
        assert answers[name].headers.get("cache-control") == "no-store", name


def test_an_incomplete_request_head_is_closed_by_the_server(served: Served) -> None:
    port = int(served.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished (slowloris)
        sock.settimeout(1)
        started = time.monotonic()
        closed_after = None
        while time.monotonic() - started < 30:  # bounded: default header timeout is 10 s
            try:
                if sock.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                sock.sendall(b"X-Slow: 1\r\n")  # trickle one header line a second
            except ConnectionResetError:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None and closed_after < 15, closed_after
    assert httpx.get(f"{served.base}/health", timeout=10).status_code == 200
