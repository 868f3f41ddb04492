"""Legal holds through the API (issue 5's service): created by investigators, S3 legal hold on
every covered object version, released only by legal or admin, both audited; scope applies."""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import TestClient

from archive.audit.query import AuditFilter
from archive.search.media import segment_ref
from tests.integration.api_support import T0, ApiEnv, api_env_fixture, iso  # noqa: F401

P = "/api/v1"


def test_hold_lifecycle(api_env: ApiEnv) -> None:
    body = {"case_id": "LP/123/III/2025", "reason": "hit and run at Simpang Empat", "cameras": ["cam-a"],
            "start": iso(T0 + timedelta(minutes=1)), "end": "2025-03-14T16:02:00+07:00"}
    with TestClient(api_env.app()) as c:
        r = c.post(f"{P}/holds", json=body, headers=api_env.auth("investigator"))
        assert r.status_code == 201, r.text
        hold = r.json()
        assert hold["active"] and hold["created_by"] == "inv1" and hold["range"]["end"] == "2025-03-14T09:02:00.000000Z"
        seq = api_env.seqs["cam-a"][6]
        with api_env.engine.connect() as conn:
            ref = segment_ref(conn, "cam-a", seq)
        assert ref is not None and api_env.store.stat(ref.bucket, ref.object_key, ref.version_id).legal_hold
        # scope: the owner of another camera does not see it; the investigator cannot hold mall-1
        assert c.get(f"{P}/holds/{hold['id']}", headers=api_env.auth("owner")).status_code == 404
        assert c.post(f"{P}/holds", json={**body, "cameras": ["mall-1"]},
                      headers=api_env.auth("investigator")).status_code == 404
        r = c.post(f"{P}/holds", json={**body, "case_id": ""}, headers=api_env.auth("investigator"))
        assert r.status_code == 400
        # only legal (or admin) releases, with a reason
        assert c.post(f"{P}/holds/{hold['id']}/release", json={"reason": "x"},
                      headers=api_env.auth("investigator")).status_code == 403
        assert c.post(f"{P}/holds/{hold['id']}/release", json={"reason": " "},
                      headers=api_env.auth("legal")).status_code == 400
        r = c.post(f"{P}/holds/{hold['id']}/release", json={"reason": "case closed"}, headers=api_env.auth("legal"))
        assert r.status_code == 201 and r.json()["active"] is False and r.json()["released_by"] == "legal1"
        assert c.post(f"{P}/holds/{hold['id']}/release", json={"reason": "again"},
                      headers=api_env.auth("legal")).status_code == 409
        assert not api_env.store.stat(ref.bucket, ref.object_key, ref.version_id).legal_hold
        listed = c.get(f"{P}/holds", params={"include_inactive": True}, headers=api_env.auth("auditor")).json()
        assert [h["case_id"] for h in listed["items"]] == ["LP/123/III/2025"]
    created = api_env.audit.events(AuditFilter(action="holds.create", newest_first=False))[0].record
    assert created.detail["case_id"] == "LP/123/III/2025" and created.detail["objects_held"] >= 6
    released = api_env.audit.events(AuditFilter(action="holds.release", result="ok"))[0].record
    assert released.actor == "legal1" and released.detail["reason"] == "case closed"
