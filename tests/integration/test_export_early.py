"""Exports that fail early and clearly (issue 13 item 5): a range the camera's log cannot cover is
refused at request time (422 naming the covered interval, no hold placed); the requesting agency
withdraws a request (hold released, custody event, audited)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient

from archive.storage.s3 import S3Store
from tests.integration import export_support as xs
from tests.integration.test_export_api import _app

P = "/api/v1"
BODY = {"case_id": "LP/11/2025", "legal_basis": "KUHAP art. 43", "reason": "theft", "cameras": ["mall-1"]}


@pytest.fixture
def env(s3_store: S3Store, tmp_path: Path) -> xs.XEnv:
    e = xs.make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path)
    xs.record_cameras(e, xs.make_clips(tmp_path / "clips"))
    return e


@pytest.mark.parametrize(("start", "end", "needle"), [
    ("2025-03-14T08:59:00Z", "2025-03-14T09:00:15Z", "camera mall-1 is recorded from 2025-03-14 16:00:0"),
    ("2025-03-13T09:00:00Z", "2025-03-13T10:00:00Z", "the range starts before its first recording"),
    ("NOW-1h", "NOW+1h", "the range ends in the future"),
    ("2025-03-14T09:00:30Z", "2025-03-14T09:00:40Z", "the range starts after its last log entry"),
])
def test_range_the_log_cannot_cover_is_refused_at_request_time(env: xs.XEnv, start: str, end: str,
                                                               needle: str) -> None:  # fmt: skip
    now = datetime.now(UTC)
    start, end = (now + timedelta(hours=int(t[3:-1])) if t.startswith("NOW") else t for t in (start, end))
    start, end = (t.isoformat() if isinstance(t, datetime) else t for t in (start, end))
    app, tok = _app(env)
    holds_before = len(env.holds.list_holds())
    with TestClient(app) as c:
        r = c.post(f"{P}/exports", json={**BODY, "start": start, "end": end}, headers=tok["inv1"])
        assert r.status_code == 422, r.text
        assert needle in r.text, r.text
        if "recorded from" in needle:
            assert "WIB" in r.text and "UTC" in r.text
        assert c.get(f"{P}/exports", headers=tok["inv1"]).json()["items"] == []
    assert len(env.holds.list_holds()) == holds_before  # no hold left behind


def test_requesting_agency_withdraws_and_the_hold_is_released(env: xs.XEnv) -> None:
    app, tok = _app(env)
    with TestClient(app) as c:
        body = {**BODY, "start": "2025-03-14T09:00:01Z", "end": "2025-03-14T09:00:15Z"}
        r = c.post(f"{P}/exports", json=body, headers=tok["inv1"])
        assert r.status_code == 201, r.text
        eid = r.json()["id"]
        hold = env.exports.service.record(eid).hold_id or -1
        assert env.holds.get(hold).released_us is None
        other = c.post(f"{P}/exports/{eid}/withdraw", json={"reason": "x"}, headers=tok["own1"])
        assert other.status_code == 403, other.text
        no_reason = c.post(f"{P}/exports/{eid}/withdraw", json={"reason": " "}, headers=tok["inv1"])
        assert no_reason.status_code in (400, 422), no_reason.text
        w = c.post(f"{P}/exports/{eid}/withdraw", json={"reason": "wrong camera"}, headers=tok["inv1"])
        assert w.status_code == 200 and w.json()["status"] == "withdrawn", w.text
        released = env.holds.get(hold)
        assert released.released_us is not None and "withdrawn by inv1: wrong camera" in (released.release_reason or "")
        events = [json.loads(x) for x in c.get(f"{P}/exports/{eid}/custody", headers=tok["inv1"]).text.splitlines()]
        assert [e["event"] for e in events][-2:] == ["withdrawn", "hold_released"]
        again = c.post(f"{P}/exports/{eid}/withdraw", json={"reason": "twice"}, headers=tok["inv1"])
        assert again.status_code == 409, again.text


def test_a_failed_build_shows_its_reason_over_the_api_and_is_retried_from_it(env: xs.XEnv) -> None:
    """The store holds other bytes than the log says: the build fails, and ``GET /exports/{id}``
    says why in ``error`` (not a bare ``failed``); ``POST .../build`` queues it again (202)."""
    import hashlib
    import time

    clip = xs.make_clips(env.tmp.parent / "clips")[0]
    t1 = xs.T0 + timedelta(seconds=20)
    xs.store_segment(env, "cam-a", clip, t1, logged_sha256=hashlib.sha256(clip + b"!").hexdigest())
    app, tok = _app(env)
    env.exports.runner.start()
    try:
        with TestClient(app) as c:
            body = {**BODY, "cameras": ["cam-a"], "start": t1.isoformat(), "end": (t1 + xs.CLIP).isoformat()}
            r = c.post(f"{P}/exports", json=body, headers=tok["inv1"])
            assert r.status_code == 201 and r.json()["status"] == "approved", r.text  # dishub: by policy
            eid = r.json()["id"]
            for attempt in (1, 2):
                assert c.post(f"{P}/exports/{eid}/build", headers=tok["admin1"]).status_code == 202
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    got = c.get(f"{P}/exports/{eid}", headers=tok["inv1"]).json()
                    custody = c.get(f"{P}/exports/{eid}/custody", headers=tok["inv1"]).text
                    if got["status"] == "failed" and custody.count('"build_failed"') == attempt:
                        break
                    time.sleep(0.1)
                assert got["status"] == "failed" and custody.count('"build_failed"') == attempt, (attempt, got)
                assert "does not hold what was logged" in (got["error"] or ""), got
            assert c.post(f"{P}/exports/{eid}/build", headers=tok["inv1"]).status_code == 403
    finally:
        env.exports.runner.stop()
