"""Placing the same legal hold twice returns the hold already placed (API 200, CLI exit 0, one
hold); another hold of the same agency under that case id is a 409 / exit 2 naming the hold."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from archive.audit.query import AuditFilter
from archive.identity.model import Role
from tests.integration.api_support import T0, ApiEnv, api_env_fixture, iso  # noqa: F401
from tests.integration.retention_support import DAY, REnv
from tests.integration.test_cli_identity import _token
from tests.integration.test_retention_cli import config, renv, run  # noqa: F401  (fixtures)

P = "/api/v1"


def test_api_retry_returns_the_existing_hold_and_a_different_one_is_409(api_env: ApiEnv) -> None:
    inv, admin = api_env.auth("investigator"), api_env.auth("admin")
    body = {"case_id": "LP/77/2025", "reason": "robbery", "cameras": ["cam-a", "kota-1"], "start": iso(T0),
            "end": iso(T0 + timedelta(minutes=5))}  # fmt: skip
    with TestClient(api_env.app()) as c:
        first = c.post(f"{P}/holds", json=body, headers=inv)
        assert first.status_code == 201, first.text
        again = c.post(f"{P}/holds", json={**body, "cameras": ["kota-1", "cam-a"]}, headers=inv)  # same set
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        listed = c.get(f"{P}/holds", headers=inv).json()["items"]
        assert [h["id"] for h in listed if h["case_id"] == "LP/77/2025"] == [first.json()["id"]]
        for change in ({"cameras": ["cam-a"]}, {"end": iso(T0 + timedelta(minutes=6))}):
            r = c.post(f"{P}/holds", json={**body, **change}, headers=inv)
            assert r.status_code == 409, r.text
            msg = r.json()["message"]
            assert f"legal hold {first.json()['id']}" in msg and "LP/77/2025" in msg, msg
        other = c.post(f"{P}/holds", json=body, headers=admin)  # another agency's case namespace
        assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    creates = api_env.audit.events(AuditFilter(action="hold.create"))
    assert len(creates) == 2  # the retry wrote no second hold.create
    requests = [e.record for e in api_env.audit.events(AuditFilter(action="holds.create"))]
    assert sorted(r.status for r in requests) == [200, 201, 201, 409, 409]
    assert [r.detail.get("existing") for r in requests if r.status == 200] == [True]


def test_cli_retry_is_idempotent_and_a_different_hold_is_refused(renv: REnv, config: Path,  # noqa: F811
                                                                 tmp_path: Path, capsys: Any) -> None:  # fmt: skip
    token = _token(renv, tmp_path, "budi", Role.INVESTIGATOR)
    now = renv.clock()
    frm, to = (now - 2 * DAY).isoformat(), (now - 2 * DAY + timedelta(seconds=20)).isoformat()
    args = ["holds", "add", "--case", "LP/9", "--reason", "robbery", "--camera", renv.cam("lobby"), "--from", frm,
            "--to", to, "--token-file", str(token)]  # fmt: skip
    code, out, _ = run(config, *args)
    assert code == 0 and "created" in out, out
    code, out, _ = run(config, *args)
    assert code == 0 and "already placed (nothing changed)" in out, out
    code, out, _ = run(config, "holds", "list")
    assert "1 hold(s)" in out, out
    later = (now - 2 * DAY + timedelta(seconds=30)).isoformat()
    capsys.readouterr()
    code, out, err = run(config, *args[:-4], "--to", later, "--token-file", str(token), capsys=capsys)
    assert code == 2 and "already has active legal hold" in err and "Traceback" not in err, (out, err)
    code, out, _ = run(config, "holds", "list")
    assert "1 hold(s)" in out, out


def test_an_exports_hold_is_not_taken_for_a_retry(api_env: ApiEnv) -> None:
    """An export request places its own hold under the case id; a hold placed afterwards for the
    same case is a new hold, never that one (releasing it must not touch the export's)."""
    from archive.export.views import ExportRequest
    from archive.identity.model import Principal
    from archive.identity.policy import CameraScope
    from archive.model import us_from_utc

    inv = Principal("inv1", "x", Role.INVESTIGATOR, "police", None, "t")
    t0 = us_from_utc(T0)
    api_env.exports.service.request(inv, CameraScope(None), ExportRequest("LP/88", "KUHAP 1", "why", ("kota-1",), t0,
                                                                           t0 + 60_000_000), origin="test")  # fmt: skip
    body = {"case_id": "LP/88", "reason": "robbery", "cameras": ["kota-1"], "start": iso(T0),
            "end": iso(T0 + timedelta(minutes=1))}  # fmt: skip
    with TestClient(api_env.app()) as c:
        r = c.post(f"{P}/holds", json=body, headers=api_env.auth("investigator"))
        assert r.status_code == 201, r.text
        assert not r.json()["reason"].startswith("evidence export")


def test_identical_holds_at_the_same_instant_place_one_hold(catalog_url: str, s3_store: Any,
                                                             tmp_path: Path) -> None:  # fmt: skip
    """Eight identical POST /holds sent at once (real threads, PostgreSQL and SQLite): exactly one hold is
    created (201), every other request gets it back (200); without the per-case lock, several
    transactions each saw no hold and inserted one."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tests.integration.api_support import make_env

    env = make_env(catalog_url, s3_store, tmp_path, with_recordings=False)
    inv = env.auth("investigator")
    try:
        with TestClient(env.app()) as c:
            for round_ in range(3):
                body = {"case_id": f"RACE/{round_}", "reason": "race", "cameras": ["cam-a"], "start": iso(T0),
                        "end": iso(T0 + timedelta(minutes=5))}  # fmt: skip
                gate = threading.Barrier(8)

                def post(body: dict[str, Any] = body, gate: threading.Barrier = gate) -> tuple[int, Any]:
                    gate.wait()
                    r = c.post(f"{P}/holds", json=body, headers=inv)
                    return r.status_code, r.json().get("id")

                with ThreadPoolExecutor(8) as pool:
                    codes = list(pool.map(lambda _: post(), range(8)))
                assert sorted(s for s, _ in codes) == [200] * 7 + [201], codes
                assert len({i for _, i in codes}) == 1, codes
                listed = c.get(f"{P}/holds", headers=inv).json()["items"]
                assert len([h for h in listed if h["case_id"] == f"RACE/{round_}"]) == 1, listed
    finally:
        env.engine.dispose()
