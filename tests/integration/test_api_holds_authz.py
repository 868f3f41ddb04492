"""Need to know on legal holds (issue 14 items 3 and 4), attacked through the real API: a hold
belongs to the agency that placed it; other agencies neither see nor release it; owner staff
see only that their camera is held; an export's own hold is released only by the export's
refusal; a release needs every camera of the hold in the caller's scope."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.testing import TestClient

from archive.audit.query import AuditFilter
from archive.identity.model import Role
from archive.search.media import segment_ref
from tests.integration.api_support import T0, ApiEnv, api_env_fixture, iso  # noqa: F401

P = "/api/v1"


def _user(env: ApiEnv, uid: str, role: Role, *, agency: str | None = None, owner: str | None = None) -> dict[str, str]:
    env.identity.add_user(uid, uid, role, agency=agency, owner_id=owner)
    return {"Authorization": f"Bearer {env.identity.create_token(uid, days=1).secret}"}


def _hold(c: TestClient[Any], env: ApiEnv, cameras: list[str], case: str = "LP/7/COVERT/2025") -> dict[str, Any]:
    body = {"case_id": case, "reason": "covert: informant near the square", "cameras": cameras,
            "start": iso(T0), "end": iso(T0 + timedelta(minutes=1))}
    r = c.post(f"{P}/holds", json=body, headers=env.auth("investigator"))  # police
    assert r.status_code == 201, r.text
    return dict(r.json())


def _held(env: ApiEnv, camera: str, index: int = 4) -> bool:
    with env.engine.connect() as conn:
        ref = segment_ref(conn, camera, env.seqs[camera][index])  # cam-a 0-3 are pruned
    assert ref is not None
    return bool(env.store.stat(ref.bucket, ref.object_key, ref.version_id).legal_hold)


def test_another_agency_neither_sees_nor_releases_a_hold(api_env: ApiEnv) -> None:
    satpol_legal = _user(api_env, "legal-satpol", Role.LEGAL, agency="satpol")  # kota shares with police and satpol
    satpol_inv = _user(api_env, "inv-satpol", Role.INVESTIGATOR, agency="satpol")
    with TestClient(api_env.app()) as c:
        hold = _hold(c, api_env, ["kota-1"])
        assert _held(api_env, "kota-1")
        for who in (satpol_legal, satpol_inv):
            listed = c.get(f"{P}/holds", params={"include_inactive": True}, headers=who)
            assert listed.status_code == 200 and listed.json()["items"] == [], listed.text
            assert "LP/7/COVERT" not in listed.text and "informant" not in listed.text
            one = c.get(f"{P}/holds/{hold['id']}", headers=who)
            assert one.status_code == 404 and "informant" not in one.text
            assert c.get(f"{P}/holds", params={"camera": "kota-1"}, headers=who).json()["items"] == []
        r = c.post(f"{P}/holds/{hold['id']}/release", json={"reason": "not ours, but we can"}, headers=satpol_legal)
        assert r.status_code == 404, r.text
        assert "informant" not in r.text
        still = c.get(f"{P}/holds/{hold['id']}", headers=api_env.auth("legal")).json()
        assert still["active"] is True and still["released_by"] is None
        assert _held(api_env, "kota-1")  # the S3 legal hold stays on
        # its own agency still sees and releases it
        assert [h["id"] for h in c.get(f"{P}/holds", headers=api_env.auth("legal")).json()["items"]] == [hold["id"]]
        assert still["agency"] == "police"
    refused = api_env.audit.events(AuditFilter(action="holds.release", actor="legal-satpol"))
    assert len(refused) == 1 and refused[0].record.status == 404


def test_owner_staff_see_only_that_their_camera_is_held(api_env: ApiEnv) -> None:
    kota_staff = _user(api_env, "own-kota", Role.OWNER, owner="kota")
    with TestClient(api_env.app()) as c:
        hold = _hold(c, api_env, ["kota-1", "cam-a"])
        listed = c.get(f"{P}/holds", headers=kota_staff)
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert len(items) == 1 and items[0]["id"] == hold["id"]
        seen = items[0]
        assert seen["cameras"] == ["kota-1"] and seen["active"] is True and seen["disclosure"] == "existence"
        for hidden in ("case_id", "reason", "created_by", "agency", "release_reason", "released_by"):
            assert seen[hidden] is None, hidden
        assert "LP/7/COVERT" not in listed.text and "informant" not in listed.text and "inv1" not in listed.text
        assert "cam-a" not in listed.text
        one = c.get(f"{P}/holds/{hold['id']}", headers=kota_staff)
        assert one.status_code == 200 and one.json()["case_id"] is None and "informant" not in one.text
        # the mall's staff: no camera of theirs, nothing at all
        assert c.get(f"{P}/holds", headers=api_env.auth("owner")).json()["items"] == []
        assert c.get(f"{P}/holds/{hold['id']}", headers=api_env.auth("owner")).status_code == 404
        # admins and auditors see everything
        full = c.get(f"{P}/holds/{hold['id']}", headers=api_env.auth("auditor")).json()
        assert full["case_id"] == "LP/7/COVERT/2025" and full["cameras"] == ["cam-a", "kota-1"]
        assert full["disclosure"] == "full"


def test_an_exports_hold_is_not_released_through_holds(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        r = c.post(f"{P}/exports", json={"case_id": "LP/9/2025", "legal_basis": "KUHAP 184", "reason": "theft",
                                         "cameras": ["kota-1"], "start": iso(T0),
                                         "end": iso(T0 + timedelta(seconds=30))}, headers=api_env.auth("investigator"))
        assert r.status_code == 201, r.text
        export_id = r.json()["id"]
        mine = c.get(f"{P}/holds", headers=api_env.auth("legal")).json()["items"]
        assert len(mine) == 1
        hold_id = mine[0]["id"]
        for role in ("legal", "admin"):
            r = c.post(f"{P}/holds/{hold_id}/release", json={"reason": "case closed"}, headers=api_env.auth(role))
            assert r.status_code == 409, (role, r.text)
            assert export_id in r.json()["message"] and "requested" in r.json()["message"]
        assert c.get(f"{P}/holds/{hold_id}", headers=api_env.auth("legal")).json()["active"] is True
        assert _held(api_env, "kota-1", 1)  # the export's 30 s: segments 0-2
    refused = api_env.audit.events(AuditFilter(action="holds.release"))
    assert {e.record.status for e in refused} == {409}


def test_release_needs_every_camera_of_the_hold_in_scope(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        hold = _hold(c, api_env, ["cam-a", "kota-1"])  # dishub and kota both share with police
        r = c.put(f"{P}/owners/dishub/sharing", json={"agencies": []}, headers=api_env.auth("admin"))
        assert r.status_code == 200, r.text
        r = c.post(f"{P}/holds/{hold['id']}/release", json={"reason": "case closed"}, headers=api_env.auth("legal"))
        assert r.status_code == 403, r.text
        assert "cam-a" not in r.text and "camera" in r.json()["message"]
        seen = c.get(f"{P}/holds/{hold['id']}", headers=api_env.auth("legal")).json()
        assert seen["active"] is True and seen["cameras"] == ["kota-1"]  # cam-a is no longer theirs to see
        assert _held(api_env, "cam-a") and _held(api_env, "kota-1")
        r = c.post(f"{P}/holds/{hold['id']}/release", json={"reason": "case closed"}, headers=api_env.auth("admin"))
        assert r.status_code == 201 and r.json()["active"] is False, r.text
        assert not _held(api_env, "cam-a")
