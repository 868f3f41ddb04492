"""Authorization matrix: every /api/v1 route x every role, plus no, bad, expired and revoked
tokens. The route list comes from the app: a route without a row here fails the test."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from archive.audit.query import AuditFilter
from archive.export.model import Actor as ExportActor
from archive.export.views import ExportRequest
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope
from archive.model import us_from_utc
from archive.retention.audit import HoldActor
from tests.integration.api_support import ROLES, T0, USERS, ApiEnv, api_env_fixture, iso  # noqa: F401

ALL = frozenset(ROLES)
SEARCHERS = frozenset({"admin", "investigator", "legal", "owner"})
VIEWERS = frozenset({"investigator", "legal", "owner"})
P = "/api/v1"

# (method, path template) -> roles allowed. Independent of archive.identity.policy on purpose.
MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", f"{P}/me"): ALL,
    ("GET", f"{P}/users"): frozenset({"admin"}),
    ("POST", f"{P}/users"): frozenset({"admin"}),
    ("POST", f"{P}/users/{{user_id:str}}/revoke"): frozenset({"admin"}),
    ("GET", f"{P}/users/{{user_id:str}}/tokens"): frozenset({"admin"}),
    ("POST", f"{P}/users/{{user_id:str}}/tokens"): ALL,  # each for themself only (test_api_duties)
    ("POST", f"{P}/users/{{user_id:str}}/confirm"): frozenset({"admin", "investigator", "legal", "owner"}),
    ("POST", f"{P}/tokens/{{token_id:str}}/revoke"): frozenset({"admin"}),
    ("GET", f"{P}/cameras"): ALL,
    ("GET", f"{P}/cameras/{{camera_id:str}}"): ALL,
    ("PATCH", f"{P}/cameras/{{camera_id:str}}"): frozenset({"admin"}),
    ("GET", f"{P}/owners"): ALL,
    ("PUT", f"{P}/owners/{{owner_id:str}}/sharing"): frozenset({"admin", "owner"}),
    ("GET", f"{P}/recordings"): SEARCHERS,
    ("GET", f"{P}/sightings"): SEARCHERS,
    ("GET", f"{P}/cameras/{{camera_id:str}}/segments/{{seq:int}}/url"): VIEWERS,
    ("GET", f"{P}/cameras/{{camera_id:str}}/playlist.m3u8"): VIEWERS,
    ("GET", f"{P}/holds"): ALL,
    ("GET", f"{P}/holds/{{hold_id:int}}"): ALL,
    ("POST", f"{P}/holds"): frozenset({"admin", "investigator"}),
    ("POST", f"{P}/holds/{{hold_id:int}}/release"): frozenset({"admin", "legal"}),
    ("GET", f"{P}/retention/plan"): frozenset({"admin", "legal", "owner", "auditor"}),
    ("GET", f"{P}/exports"): ALL,
    ("GET", f"{P}/exports/{{export_id:str}}"): ALL,
    ("POST", f"{P}/exports"): frozenset({"investigator", "legal"}),
    ("POST", f"{P}/exports/{{export_id:str}}/decision"): frozenset({"admin", "owner"}),
    ("POST", f"{P}/exports/{{export_id:str}}/withdraw"): frozenset({"investigator", "legal"}),
    ("POST", f"{P}/exports/{{export_id:str}}/build"): frozenset({"admin"}),
    ("GET", f"{P}/exports/{{export_id:str}}/package"): frozenset({"investigator", "legal"}),
    ("GET", f"{P}/exports/{{export_id:str}}/package/meta"): frozenset({"investigator", "legal"}),
    ("GET", f"{P}/exports/{{export_id:str}}/custody"): ALL,
    ("POST", f"{P}/exports/verify"): frozenset({"admin", "legal", "auditor"}),
    ("POST", f"{P}/cameras/{{camera_id:str}}/verify"): frozenset({"admin", "legal", "auditor"}),
    ("GET", f"{P}/audit/events"): frozenset({"auditor"}),
    ("GET", f"{P}/audit/verify"): frozenset({"auditor"}),
    ("GET", f"{P}/audit/head"): frozenset({"auditor"}),
    ("GET", f"{P}/health"): frozenset({"admin", "auditor"}),
    ("GET", f"{P}/metrics"): frozenset({"admin", "auditor"}),
}

Call = tuple[str, dict[str, Any]]
_counter = itertools.count()


def _cam(role: str) -> str:
    return "mall-1" if role == "owner" else "kota-1"


def _range(minutes: int = 2) -> dict[str, str]:
    return {"start": iso(T0), "end": iso(T0 + timedelta(minutes=minutes))}


def requests_for(env: ApiEnv, tmp: Any) -> dict[tuple[str, str], Callable[[str], Call]]:
    """A concrete, valid request per route for a role (fresh targets for changes)."""
    ident = env.identity

    def fresh_user(_: str) -> Call:
        uid = f"tmp{next(_counter)}"
        ident.add_user(uid, "Temp", Role.INVESTIGATOR, agency="police")
        return f"{P}/users/{uid}/revoke", {}

    def pending_user(role: str) -> Call:  # someone this role vouches for (an admin: the first of a new agency)
        uid = f"pend{next(_counter)}"
        if role == "owner":
            ident.add_user(uid, "Pending", Role.OWNER, owner_id="mall", created_by="admin1")
        elif role == "admin":
            ident.add_user(uid, "Pending", Role.INVESTIGATOR, agency=f"new{uid}", created_by="admin0")
        else:
            ident.add_user(uid, "Pending", Role.INVESTIGATOR, agency="police", created_by="admin1")
        return f"{P}/users/{uid}/confirm", {}

    def fresh_token(_: str) -> Call:
        return f"{P}/tokens/{ident.create_token('inv1', days=1).token.id}/revoke", {}

    def fresh_hold(_: str) -> Call:  # placed by the police on a camera shared with them (legal1 may release it)
        hold, _r = env.deps.holds.create(HoldActor("inv1", Role.INVESTIGATOR), case_id=f"C-{next(_counter)}",  # type: ignore[union-attr]
                                         reason="test", cameras=["kota-1"], start_us=1, end_us=2, agency="police")
        return f"{P}/holds/{hold.id}/release", {"json": {"reason": "case closed"}}

    svc = env.exports.service
    inv = Principal("inv1", "x", Role.INVESTIGATOR, "police", None, "t")
    admin = Principal("admin1", "x", Role.ADMIN, "diskominfo", None, "t")

    def requested(camera: str, case: str = "C-1") -> str:
        t0 = us_from_utc(T0)
        req = ExportRequest(case, "KUHAP 1", "why", (camera,), t0, t0 + 60_000_000)
        return svc.request(inv, CameraScope(None), req, origin="test").id

    def approved() -> str:
        eid = requested("kota-1")
        svc.decide(admin, CameraScope(None), eid, True, "ok", origin="test")
        return eid

    def fresh_export(role: str) -> Call:  # the owner decides its own camera's export; an admin a city camera's
        return f"{P}/exports/{requested(_cam(role))}/decision", {"json": {"approve": True, "reason": "ok"}}

    # a real, built package of kota-1 (what investigators and legal download and verify)
    built = approved()
    package = env.exports.builds.build(built, ExportActor.of(admin, "test"))
    assert package.package_path is not None
    body = Path(package.package_path).read_bytes()
    standing = {"kota-1": built, "mall-1": requested("mall-1", "C-0")}
    hold, _r = env.deps.holds.create(HoldActor("inv1", Role.INVESTIGATOR), case_id="C-standing", reason="test",  # type: ignore[union-attr]
                                     cameras=["kota-1", "mall-1"], start_us=1, end_us=2, agency="police")
    first = {"mall-1": env.seqs["mall-1"][0], "kota-1": env.seqs["kota-1"][0]}
    body_hold = {"case_id": "C-9", "reason": "robbery", "start": iso(T0), "end": iso(T0 + timedelta(minutes=1))}
    return {
        ("GET", f"{P}/me"): lambda r: (f"{P}/me", {}),
        ("GET", f"{P}/users"): lambda r: (f"{P}/users", {}),
        ("POST", f"{P}/users"): lambda r: (f"{P}/users", {"json": {"id": f"new{next(_counter)}", "name": "N",
                                                                  "role": "investigator", "agency": "police"}}),
        ("POST", f"{P}/users/{{user_id:str}}/revoke"): fresh_user,
        ("GET", f"{P}/users/{{user_id:str}}/tokens"): lambda r: (f"{P}/users/inv1/tokens", {}),
        ("POST", f"{P}/users/{{user_id:str}}/tokens"): lambda r: (f"{P}/users/{USERS[r][0]}/tokens",
                                                                 {"json": {"days": 2}}),
        ("POST", f"{P}/users/{{user_id:str}}/confirm"): pending_user,
        ("POST", f"{P}/tokens/{{token_id:str}}/revoke"): fresh_token,
        ("GET", f"{P}/cameras"): lambda r: (f"{P}/cameras", {}),
        ("GET", f"{P}/cameras/{{camera_id:str}}"): lambda r: (f"{P}/cameras/{_cam(r)}", {}),
        ("PATCH", f"{P}/cameras/{{camera_id:str}}"): lambda r: (f"{P}/cameras/{_cam(r)}", {"json": {"enabled": True}}),
        ("GET", f"{P}/owners"): lambda r: (f"{P}/owners", {}),
        ("PUT", f"{P}/owners/{{owner_id:str}}/sharing"):
            lambda r: (f"{P}/owners/mall/sharing", {"json": {"agencies": []}}),
        ("GET", f"{P}/recordings"): lambda r: (f"{P}/recordings", {"params": {"camera": _cam(r), **_range()}}),
        ("GET", f"{P}/sightings"): lambda r: (f"{P}/sightings", {"params": {"lat": -7.4725, "lon": 112.434,
                                                                           "radius_m": 3000, **_range()}}),
        ("GET", f"{P}/cameras/{{camera_id:str}}/segments/{{seq:int}}/url"):
            lambda r: (f"{P}/cameras/{_cam(r)}/segments/{first[_cam(r)]}/url", {}),
        ("GET", f"{P}/cameras/{{camera_id:str}}/playlist.m3u8"):
            lambda r: (f"{P}/cameras/{_cam(r)}/playlist.m3u8", {"params": _range()}),
        ("GET", f"{P}/holds"): lambda r: (f"{P}/holds", {}),
        ("GET", f"{P}/holds/{{hold_id:int}}"): lambda r: (f"{P}/holds/{hold.id}", {}),
        ("POST", f"{P}/holds"): lambda r: (f"{P}/holds", {"json": {**body_hold, "cameras": [_cam(r)]}}),
        ("POST", f"{P}/holds/{{hold_id:int}}/release"): fresh_hold,
        ("GET", f"{P}/retention/plan"): lambda r: (f"{P}/retention/plan", {}),
        ("GET", f"{P}/exports"): lambda r: (f"{P}/exports", {}),
        ("GET", f"{P}/exports/{{export_id:str}}"): lambda r: (f"{P}/exports/{standing[_cam(r)]}", {}),
        ("POST", f"{P}/exports"): lambda r: (f"{P}/exports", {"json": {
            "case_id": "C-2", "legal_basis": "KUHAP 184", "reason": "theft", "cameras": [_cam(r)], **_range()}}),
        ("POST", f"{P}/exports/{{export_id:str}}/decision"): fresh_export,
        ("POST", f"{P}/exports/{{export_id:str}}/withdraw"):
            lambda r: (f"{P}/exports/{requested(_cam(r))}/withdraw", {"json": {"reason": "wrong camera"}}),
        ("POST", f"{P}/exports/{{export_id:str}}/build"): lambda r: (f"{P}/exports/{approved()}/build", {}),
        ("GET", f"{P}/exports/{{export_id:str}}/package"): lambda r: (f"{P}/exports/{built}/package", {}),
        ("GET", f"{P}/exports/{{export_id:str}}/package/meta"): lambda r: (f"{P}/exports/{built}/package/meta", {}),
        ("GET", f"{P}/exports/{{export_id:str}}/custody"): lambda r: (f"{P}/exports/{standing[_cam(r)]}/custody", {}),
        ("POST", f"{P}/exports/verify"): lambda r: (f"{P}/exports/verify", {"content": body}),
        ("POST", f"{P}/cameras/{{camera_id:str}}/verify"): lambda r: (f"{P}/cameras/{_cam(r)}/verify", {}),
        ("GET", f"{P}/audit/events"): lambda r: (f"{P}/audit/events", {}),
        ("GET", f"{P}/audit/verify"): lambda r: (f"{P}/audit/verify", {}),
        ("GET", f"{P}/audit/head"): lambda r: (f"{P}/audit/head", {}),
        ("GET", f"{P}/health"): lambda r: (f"{P}/health", {}),
        ("GET", f"{P}/metrics"): lambda r: (f"{P}/metrics", {}),
    }


def app_routes(app: Any) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        if not route.path.startswith(P):
            continue
        for method in getattr(route, "methods", ()):
            if method not in ("OPTIONS", "HEAD"):
                out.add((method, route.path))
    return out


def test_matrix_covers_every_route(api_env: ApiEnv) -> None:
    routes = app_routes(api_env.app())
    assert routes - set(MATRIX) == set(), "routes without an authorization matrix row"
    assert set(MATRIX) - routes == set(), "matrix rows for routes the app does not have"


def test_every_route_as_every_role(api_env: ApiEnv, tmp_path: Any) -> None:
    app = api_env.app()
    reqs = requests_for(api_env, tmp_path)
    assert set(reqs) == set(MATRIX) == app_routes(app)
    failures = []
    with TestClient(app) as client:
        for (method, path), allowed in sorted(MATRIX.items()):
            for role in ROLES:
                url, kw = reqs[(method, path)](role)
                r = client.request(method, url, headers=api_env.auth(role), **kw)
                ok = 200 <= r.status_code < 300
                if (role in allowed) != ok or (role not in allowed and r.status_code != 403):
                    failures.append(f"{method} {url} as {role}: {r.status_code} {r.text[:200]}")
                assert "Traceback" not in r.text
    assert not failures, "\n".join(failures)


def test_a_pending_user_may_do_nothing_but_read_me(api_env: ApiEnv, tmp_path: Any) -> None:
    """Every role, created over the API and not yet confirmed: 403 on every route but /me."""
    app = api_env.app()
    reqs = requests_for(api_env, tmp_path)
    failures = []
    with TestClient(app) as client:
        for role in ROLES:
            uid, _name, r, agency, owner = USERS[role]
            api_env.identity.add_user(f"p-{uid}", "Pending", r, agency=agency, owner_id=owner, created_by="admin1")
            headers = {"Authorization": f"Bearer {api_env.identity.create_token(f'p-{uid}', days=1).secret}"}
            for (method, path), build in sorted(reqs.items()):
                url, kw = build(role)
                url = url.replace(f"/users/{uid}/tokens", f"/users/p-{uid}/tokens")
                res = client.request(method, url, headers=headers, **kw)
                want = 200 if path == f"{P}/me" else 403
                if res.status_code != want:
                    failures.append(f"{method} {url} as pending {role}: {res.status_code} {res.text[:200]}")
    assert not failures, "\n".join(failures)


def test_every_route_refuses_missing_bad_expired_and_revoked_tokens(api_env: ApiEnv, tmp_path: Any) -> None:
    app = api_env.app()
    reqs = requests_for(api_env, tmp_path)
    admin = api_env.tokens["admin"]
    bad = {
        "none": {},
        "not bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "empty": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer ' OR 1=1 --"},
        "unknown": {"Authorization": "Bearer arc1_0123456789abcdef_" + "A" * 43},
        "tampered": {"Authorization": "Bearer " + admin[:-1] + ("B" if admin[-1] != "B" else "C")},
        "expired": {"Authorization": "Bearer " + api_env.extra_tokens["expired"]},
        "revoked": {"Authorization": "Bearer " + api_env.extra_tokens["revoked"]},
        "revoked user": {"Authorization": "Bearer " + api_env.extra_tokens["revoked_user"]},
    }
    targets = [(method, *build("admin")) for (method, _path), build in sorted(reqs.items())]  # set-up writes first
    before = api_env.audit.size()
    calls = 0
    with TestClient(app) as client:
        for method, url, kw in targets:
            for name, headers in bad.items():
                r = client.request(method, url, headers=headers, **kw)
                calls += 1
                assert r.status_code == 401, (name, method, url, r.status_code, r.text)
                body = r.json()
                assert body["error"] == "unauthenticated" and body["message"]
                assert r.headers["www-authenticate"].startswith("Bearer")
    failed = api_env.audit.events(AuditFilter(action="auth.failed", limit=10_000))
    assert len(failed) == calls
    assert api_env.audit.size() - before == calls
    reasons = {e.record.detail.get("reason") for e in failed}
    malformed = "malformed token (expected arc1_<id>_<secret>)"
    assert {"token expired", "token revoked", "unknown token", malformed} <= reasons
    assert all(e.record.result.value == "denied" and e.record.ip for e in failed)
    assert any(e.record.token for e in failed)  # the token id of an expired/revoked token is named
    assert all(api_env.tokens["admin"] not in str(e.record) for e in failed)  # never a secret


def test_open_routes_need_no_token(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/schema/openapi.json").status_code == 200


def test_audit_routes_are_read_only(api_env: ApiEnv) -> None:
    for method, path in app_routes(api_env.app()):
        if path.startswith(f"{P}/audit"):
            assert method == "GET", (method, path)
    with TestClient(api_env.app()) as client:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = client.request(method, f"{P}/audit/events", headers=api_env.auth("auditor"))
            assert r.status_code == 405, (method, r.status_code)
    time.sleep(0)
