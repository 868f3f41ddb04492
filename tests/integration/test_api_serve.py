"""``archive api serve`` end to end: a real Runtime (embedded SeaweedFS, SQLite catalog), the
wiring of every dependency, uvicorn on loopback, a token from ``archive tokens create``."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from archive.cli import main
from tests.fixtures.ports import free_port


def test_archive_api_serve(tmp_path: Path) -> None:
    cfg = tmp_path / "archive.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "var"}"\n[api]\naudit_checkpoint_seconds = 1\n', encoding="utf-8")
    out = io.StringIO()
    assert main(["--config", str(cfg), "users", "add", "aud", "--role", "auditor", "--agency", "inspektorat"],
                out=out) == 0
    out = io.StringIO()
    assert main(["--config", str(cfg), "tokens", "create", "aud"], out=out) == 0
    token = out.getvalue().splitlines()[0]
    assert main(["--config", str(cfg), "users", "add", "adm", "--role", "admin", "--agency", "diskominfo"],
                out=io.StringIO()) == 0
    out = io.StringIO()
    assert main(["--config", str(cfg), "tokens", "create", "adm"], out=out) == 0
    admin = {"Authorization": f"Bearer {out.getvalue().splitlines()[0]}"}
    port = free_port()
    argv = [sys.executable, "-m", "archive", "--config", str(cfg), "api", "serve", "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        health = httpx.get(f"{base}/health").json()
        assert health["ok"], health
        assert {c["name"] for c in health["checks"]} >= {"catalog", "storage"}
        h = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/v1/me", headers=h).json()["role"] == "auditor"
        assert httpx.get(f"{base}/api/v1/cameras", headers=h).status_code == 200
        assert httpx.get(f"{base}/schema/openapi.json").status_code == 200
        plan = httpx.get(f"{base}/api/v1/retention/plan", headers=admin, timeout=30)
        assert plan.status_code < 500, plan.text  # the retention service's preview (no policy files here)
        holds = httpx.get(f"{base}/api/v1/holds", headers=admin)
        assert holds.status_code == 200 and holds.json()["items"] == []
        page = httpx.get(f"{base}/ui/login")  # the browser pages are served by the same app
        assert page.status_code == 200 and 'name="token"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert httpx.get(f"{base}/ui/static/vendor/htmx.min.js").status_code == 200
        assert httpx.get(f"{base}/ui/cameras", follow_redirects=False).headers["location"] == "/ui/login"
        time.sleep(2.5)  # the audit checkpointer signs at least once
        head = httpx.get(f"{base}/api/v1/audit/head", headers=h).json()
        assert head["signed_size"] is not None and head["signed_size"] >= 5  # CLI adds and creates, API calls
        verify = httpx.get(f"{base}/api/v1/audit/verify", headers=h).json()
        assert verify["ok"], verify
        assert "archive_audit_entries" in httpx.get(f"{base}/metrics").text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = proc.stdout.read().decode() if proc.stdout else ""
    assert "Traceback" not in log, log
