"""The served export API (archive.api.routes.exports, mounted by create_app): request, approve,
build with progress, the package hash first, resumable download with Range, the custody log, and
verification of an upload."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from archive.api.app import create_app
from archive.api.deps import ApiDeps
from archive.api.ranges import parse_range
from archive.ledger.witness import witness_keygen
from archive.search.service import SearchService
from archive.storage.s3 import S3Store
from tests.integration import export_support as xs

P = "/api/v1"


def _app(env: xs.XEnv) -> tuple[Litestar, dict[str, dict[str, str]]]:
    deps = ApiDeps(identity=env.identity, search=SearchService(env.engine), audit=env.audit,  # type: ignore[arg-type]
                   exports=env.exports)
    tokens = {u: {"Authorization": f"Bearer {env.identity.create_token(u, days=1).secret}"} for u in xs.USERS}
    return create_app(deps), tokens


@pytest.fixture
def env(s3_store: S3Store, tmp_path: Path) -> xs.XEnv:
    e = xs.make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path)
    xs.record_cameras(e, xs.make_clips(tmp_path / "clips"))
    return e


def test_parse_range() -> None:
    assert parse_range(None, 10) is None and parse_range("bytes=0-1,3-4", 10) is None
    assert parse_range("bytes=2-", 10) == (2, 9) and parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=0-99", 10) == (0, 9)
    with pytest.raises(Exception, match="not satisfiable"):
        parse_range("bytes=10-", 10)


def test_export_over_the_api(env: xs.XEnv, tmp_path: Path) -> None:
    app, tok = _app(env)
    env.exports.runner.start()
    try:
        with TestClient(app) as c:
            body: dict[str, Any] = {"case_id": "LP/9/2025", "legal_basis": "KUHAP art. 43", "reason": "robbery",
                                    "cameras": ["cam-a", "mall-1"], "start": "2025-03-14T16:00:01+07:00",
                                    "end": "2025-03-14T09:00:19Z"}
            r = c.post(f"{P}/exports", json=body, headers=tok["inv1"])
            assert r.status_code == 201, r.text
            eid = r.json()["id"]
            assert r.json()["status"] == "requested"
            assert c.post(f"{P}/exports", json=body, headers=tok["own1"]).status_code == 403
            r = c.post(f"{P}/exports/{eid}/decision", json={"approve": True}, headers=tok["admin1"])
            assert r.status_code == 403
            r = c.post(f"{P}/exports/{eid}/decision", json={"approve": True, "reason": "ok"}, headers=tok["own1"])
            assert r.status_code == 201 and r.json()["status"] == "approved", r.text
            r = c.post(f"{P}/exports/{eid}/build", headers=tok["admin1"])
            assert r.status_code == 202, r.text
            deadline, seen = time.monotonic() + 60, []
            while time.monotonic() < deadline:
                r = c.get(f"{P}/exports/{eid}", headers=tok["inv1"]).json()
                seen.append(r["progress"])
                if r["status"] in ("built", "failed"):
                    break
                time.sleep(0.05)
            assert r["status"] == "built" and r["progress"] == 1.0, r
            meta = c.get(f"{P}/exports/{eid}/package/meta", headers=tok["inv1"]).json()
            assert meta["sha256"] == r["package_sha256"] and meta["size"] == r["package_size"]
            h = c.head(f"{P}/exports/{eid}/package", headers=tok["legal1"])
            assert h.status_code == 200 and h.headers["x-package-sha256"] == meta["sha256"], h.headers
            # Resumable: two ranges make the file; the hash matches the one shown first.
            first = c.get(f"{P}/exports/{eid}/package", headers={**tok["inv1"], "Range": "bytes=0-99999"})
            assert first.status_code == 206 and first.headers["content-range"] == f"bytes 0-99999/{meta['size']}"
            rest = c.get(f"{P}/exports/{eid}/package", headers={**tok["inv1"], "Range": "bytes=100000-",
                                                                 "If-Range": first.headers["etag"]})
            assert rest.status_code == 206
            data = first.content + rest.content
            assert len(data) == meta["size"] and hashlib.sha256(data).hexdigest() == meta["sha256"]
            whole = c.get(f"{P}/exports/{eid}/package", headers={**tok["inv1"], "Range": "bytes=5-",
                                                                  "If-Range": '"other"'})
            assert whole.status_code == 200 and len(whole.content) == meta["size"]
            bad = c.get(f"{P}/exports/{eid}/package", headers={**tok["inv1"], "Range": f"bytes={meta['size']}-"})
            assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{meta['size']}"
            assert c.get(f"{P}/exports/{eid}/package", headers=tok["own1"]).status_code == 403
            # Verify an upload; a legal user's verification is recorded in the custody log.
            r = c.post(f"{P}/exports/verify", params=[("trust", f) for f in env.trust], content=data,
                       headers={**tok["legal1"], "Content-Type": "application/zip"})
            assert r.status_code == 200, r.text
            res = r.json()
            assert res["valid"] and res["recorded"] and res["package_sha256"] == meta["sha256"]
            assert (res["status"], res["failed_step"]) == ("VALID", None)
            assert [c["step"] for c in res["checks"]] == sorted(c["step"] for c in res["checks"])
            tampered = bytearray(data)
            tampered[len(data) // 3] ^= 0x01
            res = c.post(f"{P}/exports/verify", content=bytes(tampered), headers=tok["legal1"]).json()
            assert res["valid"] is False and res["checks"]
            bad = min(c["step"] for c in res["checks"] if not c["ok"])
            assert res["status"] == "INVALID" and res["failed_step"] == bad and f"at step {bad} (" in res["verdict"]
            assert c.post(f"{P}/exports/verify", content=data, headers=tok["inv1"]).status_code == 403
            # ?witness=KEY: a witness that did not cosign fails the package; a key that is not a witness key is a 400.
            stranger = witness_keygen("stranger.example.org/witness").verifier_key.encode()
            res = c.post(f"{P}/exports/verify", params={"witness": stranger}, content=data,
                         headers=tok["legal1"]).json()  # fmt: skip
            assert res["valid"] is False and any("no valid cosignature by the trusted witness stranger.example.org"
                                                 in f for ch in res["checks"] for f in ch["failures"]), res
            assert c.post(f"{P}/exports/verify", params={"witness": "nonsense"}, content=data,
                          headers=tok["legal1"]).status_code == 400  # fmt: skip
            lines = c.get(f"{P}/exports/{eid}/custody", headers=tok["legal1"]).text.splitlines()
            events = [__import__("json").loads(x)["event"] for x in lines]
            assert events.count("downloaded") == 3 and events.count("verified") == 3
            assert '"from":"testclient"' in lines[0]
            # ?witness_quorum=Q: Q of the ?witness keys (after the custody count: this check is recorded too);
            # a quorum without keys, or not a number, is a 400.
            other = witness_keygen("other.example.org/witness").verifier_key.encode()
            res = c.post(f"{P}/exports/verify", params={"witness": [stranger, other], "witness_quorum": "1"},
                         content=data, headers=tok["legal1"]).json()  # fmt: skip
            assert res["valid"] is False and any("witness policy 1 of 2: NOT met, only 0" in f
                                                 for ch in res["checks"] for f in ch["failures"]), res
            for params in ({"witness_quorum": "1"}, {"witness": stranger, "witness_quorum": "two"},
                           {"witness": stranger, "witness_quorum": "2"}):
                bad_q = c.post(f"{P}/exports/verify", params=params, content=data, headers=tok["legal1"])
                assert bad_q.status_code == 400 and "witness" in bad_q.json()["message"], bad_q.text
    finally:
        env.exports.runner.stop()


def test_refusal_over_the_api_releases_the_hold(env: xs.XEnv) -> None:
    app, tok = _app(env)
    with TestClient(app) as c:
        body = {"case_id": "LP/10/2025", "legal_basis": "KUHAP art. 43", "reason": "theft", "cameras": ["mall-1"],
                "start": "2025-03-14T09:00:01Z", "end": "2025-03-14T09:00:15Z"}
        eid = c.post(f"{P}/exports", json=body, headers=tok["inv1"]).json()["id"]
        hold = env.exports.service.record(eid).hold_id or -1
        assert env.holds.get(hold).released_us is None
        r = c.post(f"{P}/exports/{eid}/decision", json={"approve": False, "reason": "no warrant"},
                   headers=tok["own1"])  # fmt: skip
        assert r.status_code == 201 and r.json()["status"] == "refused", r.text
        released = env.holds.get(hold)
        assert released.released_us is not None and "refused by own1: no warrant" in (released.release_reason or "")
        events = [__import__("json").loads(x) for x in c.get(f"{P}/exports/{eid}/custody",
                                                               headers=tok["inv1"]).text.splitlines()]  # fmt: skip
        assert [e["event"] for e in events][-2:] == ["refused", "hold_released"]
        assert events[-1]["detail"]["legal_hold"] == hold and events[-1]["from"] == "testclient"


def test_owner_staff_see_only_their_own_cameras_of_a_multi_owner_export(env: xs.XEnv) -> None:
    """Issue 14 item 13: mall staff approve their part of a police export that also covers a Dishub
    camera; no answer they get names the other owner's camera (nor that owner)."""
    app, tok = _app(env)
    with TestClient(app) as c:
        body = {"case_id": "LP/11/2025", "legal_basis": "KUHAP art. 43", "reason": "robbery",
                "cameras": ["cam-a", "mall-1"], "start": "2025-03-14T09:00:01Z", "end": "2025-03-14T09:00:15Z"}
        eid = c.post(f"{P}/exports", json=body, headers=tok["inv1"]).json()["id"]
        answers = [c.get(f"{P}/exports", headers=tok["own1"]), c.get(f"{P}/exports/{eid}", headers=tok["own1"]),
                   c.post(f"{P}/exports/{eid}/decision", json={"approve": True, "reason": "ok"}, headers=tok["own1"])]
        for r in answers:
            assert r.status_code in (200, 201), r.text
            assert "cam-a" not in r.text and "dishub" not in r.text, r.text
        listed = [e for e in answers[0].json()["items"] if e["id"] == eid]
        assert listed and listed[0]["cameras"] == ["mall-1"]
        assert answers[1].json()["cameras"] == ["mall-1"]
        assert all(a.startswith("mall: ") for a in answers[2].json()["approvals"])
        custody = c.get(f"{P}/exports/{eid}/custody", headers=tok["own1"])
        assert custody.status_code == 403 and "cam-a" not in custody.text, custody.text
        assert "names cameras of other owners" in custody.text
        mine = c.get(f"{P}/exports/{eid}", headers=tok["inv1"]).json()  # the requesting agency sees all
        assert mine["cameras"] == ["cam-a", "mall-1"]
