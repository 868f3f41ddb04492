"""Separation of duties, attacked through the real API (README "Separation of duties").

No single administrator reaches a private owner's footage or an owner's approval alone:
sharing a private owner's cameras is the owner's decision, a user's token is theirs, and a
user an administrator creates over the API can do nothing until someone else confirms them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import TestClient

from archive.audit.query import AuditFilter
from archive.export.views import ExportRequest
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope
from archive.model import us_from_utc
from tests.integration.api_support import T0, ApiEnv, iso, sealed_api_env_fixture  # noqa: F401

P = "/api/v1"


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _mall_export(env: ApiEnv) -> str:
    inv = Principal("inv1", "x", Role.INVESTIGATOR, "police", None, "t")
    t0 = us_from_utc(T0)
    req = ExportRequest("C-77", "KUHAP 1", "why", ("mall-1",), t0, t0 + 60_000_000)
    return env.exports.service.request(inv, CameraScope(None), req, origin="test").id


def test_admin_alone_cannot_reach_a_private_cameras_playback(api_env: ApiEnv) -> None:
    """create investigator in a new agency -> share the mall with it -> token -> playlist."""
    admin = api_env.auth("admin")
    with TestClient(api_env.app()) as c:
        r = c.post(f"{P}/users", headers=admin, json={"id": "sock1", "name": "Sock Puppet", "role": "investigator",
                                                       "agency": "shadow"})  # fmt: skip
        assert r.status_code == 201, r.text
        created = r.json()
        r = c.put(f"{P}/owners/mall/sharing", headers=admin, json={"agencies": ["shadow"]})
        assert r.status_code == 403, r.text  # the mall's sharing is the mall's decision
        assert "owner" in r.json()["message"]
        assert created["confirmed"] is False  # created over the API: pending a second person
        r = c.post(f"{P}/users/sock1/tokens", headers=admin, json={"days": 1})
        assert r.status_code == 403, r.text  # nobody mints another user's token over the API
        assert "token" not in r.json()
        owners = {o["id"]: o for o in c.get(f"{P}/owners", headers=admin).json()["items"]}
        assert owners["mall"]["agencies"] == []
        # even with a token the operator issued on the server, the pending user sees nothing
        sock = _bearer(api_env.identity.create_token("sock1", days=1).secret)
        r = c.get(f"{P}/cameras/mall-1/playlist.m3u8", headers=sock,
                  params={"start": iso(T0), "end": iso(T0 + timedelta(minutes=1))})
        assert r.status_code in (403, 404), r.text
        me = c.get(f"{P}/me", headers=sock).json()
        assert me["confirmed"] is False and me["notices"], me  # the server-issued token is announced


def test_admin_may_remove_but_not_add_private_sharing(api_env: ApiEnv) -> None:
    admin, owner = api_env.auth("admin"), api_env.auth("owner")
    with TestClient(api_env.app()) as c:
        r = c.put(f"{P}/owners/mall/sharing", headers=owner, json={"agencies": ["police", "satpol"]})
        assert r.status_code == 200, r.text
        r = c.put(f"{P}/owners/mall/sharing", headers=admin, json={"agencies": ["police", "satpol", "shadow"]})
        assert r.status_code == 403, r.text
        r = c.put(f"{P}/owners/mall/sharing", headers=admin, json={"agencies": ["police"]})
        assert r.status_code == 200 and r.json()["agencies"] == ["police"], r.text  # least privilege: allowed
        # a government owner's sharing is the administration's (audited)
        r = c.put(f"{P}/owners/kota/sharing", headers=admin, json={"agencies": ["police", "satpol", "shadow"]})
        assert r.status_code == 200, r.text


def test_admin_cannot_impersonate_an_existing_user(api_env: ApiEnv) -> None:
    admin = api_env.auth("admin")
    with TestClient(api_env.app()) as c:
        before = len(api_env.identity.tokens("inv1"))
        r = c.post(f"{P}/users/inv1/tokens", headers=admin, json={"days": 2})
        assert r.status_code == 403, r.text
        assert "token" not in r.json()
        assert len(api_env.identity.tokens("inv1")) == before  # nothing issued
        # a user renews their own token; revoking someone else's stays allowed (it only removes power)
        r = c.post(f"{P}/users/inv1/tokens", headers=api_env.auth("investigator"), json={"days": 2})
        assert r.status_code == 201, r.text
        assert c.post(f"{P}/tokens/{r.json()['id']}/revoke", headers=admin).status_code == 200


def test_admin_created_owner_staff_cannot_approve_until_the_owner_confirms(api_env: ApiEnv) -> None:
    admin = api_env.auth("admin")
    eid = _mall_export(api_env)
    with TestClient(api_env.app()) as c:
        r = c.post(f"{P}/users", headers=admin, json={"id": "fake-staff", "name": "Fake", "role": "owner",
                                                       "owner": "mall"})  # fmt: skip
        assert r.status_code == 201, r.text
        fake = _bearer(api_env.identity.create_token("fake-staff", days=1).secret)  # the operator's CLI
        r = c.post(f"{P}/exports/{eid}/decision", headers=fake, json={"approve": True, "reason": "ok"})
        assert r.status_code == 403, r.text
        assert "confirm" in r.json()["message"]
        assert api_env.exports.service.record(eid).status.value == "requested"
        # the creating admin, and a second admin, may not confirm staff of an owner who has staff
        assert c.post(f"{P}/users/fake-staff/confirm", headers=admin).status_code == 403
        api_env.identity.add_user("admin2", "Admin Dua", Role.ADMIN, agency="diskominfo")
        admin2 = _bearer(api_env.identity.create_token("admin2", days=1).secret)
        r = c.post(f"{P}/users/fake-staff/confirm", headers=admin2)
        assert r.status_code == 403, r.text
        # the owner's existing staff confirms; then the new staff member decides
        r = c.post(f"{P}/users/fake-staff/confirm", headers=api_env.auth("owner"))
        assert r.status_code == 200 and r.json()["confirmed"] is True, r.text
        r = c.post(f"{P}/exports/{eid}/decision", headers=fake, json={"approve": True, "reason": "ok"})
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "approved"


def test_first_owner_staff_needs_a_second_admin(api_env: ApiEnv) -> None:
    """dishub has no staff yet: four eyes - a second administrator confirms the first one."""
    admin = api_env.auth("admin")
    api_env.identity.add_user("admin2", "Admin Dua", Role.ADMIN, agency="diskominfo")
    admin2 = _bearer(api_env.identity.create_token("admin2", days=1).secret)
    with TestClient(api_env.app()) as c:
        assert c.post(f"{P}/users", headers=admin, json={"id": "dh1", "name": "Dishub Staff", "role": "owner",
                                                          "owner": "dishub"}).status_code == 201  # fmt: skip
        r = c.post(f"{P}/users/dh1/confirm", headers=admin)
        assert r.status_code == 403 and "second" in r.json()["message"], r.text
        r = c.post(f"{P}/users/dh1/confirm", headers=admin2)
        assert r.status_code == 200 and r.json()["confirmed_by"] == "admin2", r.text
        users = {u["id"]: u for u in c.get(f"{P}/users", headers=admin).json()["items"]}
        assert users["dh1"]["created_by"] == "admin1" and users["dh1"]["confirmed"] is True


def test_a_new_admin_cannot_be_a_sock_puppet(api_env: ApiEnv) -> None:
    """An administrator created over the API needs another administrator's confirmation, so one
    admin cannot make their own 'second admin' for four-eyes."""
    admin = api_env.auth("admin")
    with TestClient(api_env.app()) as c:
        r = c.post(f"{P}/users", headers=admin, json={"id": "puppet", "name": "Puppet", "role": "admin",
                                                       "agency": "diskominfo"})  # fmt: skip
        assert r.status_code == 201, r.text
        puppet = _bearer(api_env.identity.create_token("puppet", days=1).secret)
        r = c.post(f"{P}/users", headers=puppet, json={"id": "x1", "name": "X", "role": "owner", "owner": "dishub"})
        assert r.status_code == 403, r.text
        assert c.post(f"{P}/users/puppet/confirm", headers=puppet).status_code == 403
        assert c.post(f"{P}/users/puppet/confirm", headers=admin).status_code == 403


def test_an_agency_colleague_confirms_an_agency_user(api_env: ApiEnv) -> None:
    admin = api_env.auth("admin")
    with TestClient(api_env.app()) as c:
        r = c.post(f"{P}/users", headers=admin, json={"id": "inv2", "name": "Penyidik Dua", "role": "investigator",
                                                       "agency": "police"})  # fmt: skip
        assert r.status_code == 201, r.text
        inv2 = _bearer(api_env.identity.create_token("inv2", days=1).secret)
        assert c.get(f"{P}/cameras", headers=inv2).status_code == 403
        r = c.post(f"{P}/users/inv2/confirm", headers=api_env.auth("owner"))  # not the mall's to vouch for
        assert r.status_code == 403, r.text
        r = c.post(f"{P}/users/inv2/confirm", headers=api_env.auth("legal"))
        assert r.status_code == 200, r.text
        assert c.get(f"{P}/cameras", headers=inv2).status_code == 200


def test_sharing_and_camera_changes_commit_with_their_audit_entry(api_env: ApiEnv,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """SPEC 7.6 obligation 1: a sharing or camera change whose audit entry cannot be appended is
    not stored (503); a stored one has its entry, sealed before the answer."""
    from archive.errors import CatalogError

    assert api_env.deps.registry is not None
    owner, admin = api_env.auth("owner"), api_env.auth("admin")
    before = {o.id: o.agencies for o in api_env.deps.registry.owners()}["mall"]
    real = api_env.audit.record_in

    def broken(conn: object, record: object) -> None:
        raise CatalogError("audit append refused")

    with TestClient(api_env.app()) as c:
        monkeypatch.setattr(api_env.audit, "record_in", broken)
        r = c.put(f"{P}/owners/mall/sharing", headers=owner, json={"agencies": ["police", "satpol"]})
        assert r.status_code == 503, r.text
        assert {o.id: o.agencies for o in api_env.deps.registry.owners()}["mall"] == before
        assert c.patch(f"{P}/cameras/cam-a", headers=admin, json={"enabled": False}).status_code == 503
        assert api_env.deps.registry.camera("cam-a").enabled
        monkeypatch.setattr(api_env.audit, "record_in", real)
        assert c.put(f"{P}/owners/mall/sharing", headers=owner, json={"agencies": ["satpol"]}).status_code == 200
    [entry] = [e.record for e in api_env.audit.events(AuditFilter(newest_first=False))
               if e.record.action == "registry.change"]  # fmt: skip
    assert entry.actor == "own1" and entry.detail["changed"]["owner/mall"]["agencies"] == ["satpol"]
    head = api_env.audit.latest()
    assert head is not None and head.size == api_env.audit.size()  # sealed before the answer
