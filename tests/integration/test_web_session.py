"""The pages' session against the real app (SeaweedFS + SQLite/PostgreSQL catalog): login with a
token, cookie flags, CSRF refused without its token, the failed-login limit, per-prefix CSP,
scope (another owner's camera is 404) and role (an auditor gets no footage), all audited."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar.testing import TestClient

from archive.api.app import create_app
from archive.api.deps import ApiSettings
from archive.audit.query import AuditFilter
from archive.export.model import Actor as ExportActor
from archive.export.views import ExportRequest
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope
from archive.ledger import SegmentFacts
from archive.model import us_from_utc
from archive.retention.policy_load import load_policies
from archive.storage.base import LockMode, Retention
from archive.web import web_pages
from archive.web.i18n import translator
from tests.integration.api_support import MEDIA, SEG, T0, ApiEnv, api_env_fixture  # noqa: F401

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')

_T = translator("id")  # the users here chose no language: the pages speak Bahasa Indonesia


def requested_export(env: ApiEnv, camera: str) -> str:
    """The id of an export of ``camera`` over [T0, T0 + 60 s) requested by inv1 (police)."""
    t0 = us_from_utc(T0)
    inv = Principal("inv1", "x", Role.INVESTIGATOR, "police", None, "t")
    return env.exports.service.request(inv, CameraScope(None), ExportRequest(
        "LP/7/2025", "KUHAP 184", "theft", (camera,), t0, t0 + 60_000_000), origin="test").id


def _client(env: ApiEnv, settings: ApiSettings | None = None) -> TestClient:  # type: ignore[type-arg]
    deps = replace(env.deps, settings=settings) if settings else env.deps
    return TestClient(create_app(deps, pages=web_pages()), base_url="http://127.0.0.1")


def _login(c: TestClient, token: str) -> tuple[int, str]:  # type: ignore[type-arg]
    form = c.get("/ui/login")
    csrf = _CSRF.search(form.text)
    assert form.status_code == 200 and csrf
    r = c.post("/ui/login", data={"csrf": csrf.group(1), "token": token}, follow_redirects=False)
    if r.status_code != 303:
        return r.status_code, r.text
    return r.status_code, next(h for h in r.headers.get_list("set-cookie") if h.startswith("archive_session="))


def test_login_sets_a_strict_http_only_cookie_and_is_audited(api_env: ApiEnv) -> None:
    with _client(api_env) as c:
        r = c.get("/ui/cameras", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ui/login"
        status, text = _login(c, "not-a-token")
        assert status == 401 and _T("login.bad_token") in text and "Traceback" not in text
        status, cookie = _login(c, api_env.tokens["investigator"])
        assert status == 303, cookie
        flags = {p.strip().lower() for p in cookie.split(";")}
        assert "httponly" in flags and "samesite=strict" in flags and "path=/ui" in flags
        assert api_env.tokens["investigator"] not in cookie
        page = c.get("/ui/cameras")
        assert page.status_code == 200 and "Simpang Empat Mojopahit" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "<script>" not in page.text and " on" + "click=" not in page.text
        api = c.get("/api/v1/cameras")  # the API keeps its own policy (and wants a bearer token)
        assert api.status_code == 401 and api.headers["content-security-policy"].startswith("default-src 'none'")
    login = api_env.audit.events(AuditFilter(action="web.login", newest_first=False))
    assert [(e.record.actor, e.record.status) for e in login] == [("inv1", 303)]
    failed = api_env.audit.events(AuditFilter(action="auth.failed", newest_first=False))
    assert [e.record.detail["reason"] for e in failed if e.record.detail.get("attempted") == "web.login"] == [
        "malformed token (expected arc1_<id>_<secret>)"]
    listed = api_env.audit.events(AuditFilter(action="web.cameras", newest_first=False))
    assert listed and listed[-1].record.actor == "inv1"


def test_forms_without_their_csrf_token_are_refused(api_env: ApiEnv) -> None:
    with _client(api_env) as c:
        c.get("/ui/login")
        r = c.post("/ui/login", data={"token": api_env.tokens["legal"]}, follow_redirects=False)
        assert r.status_code == 403 and "archive_session" not in r.headers.get("set-cookie", "")
        assert _login(c, api_env.tokens["legal"])[0] == 303
        page = c.get("/ui/cameras")
        token = _CSRF.search(page.text)
        assert token
        refused = c.post("/ui/logout", data={"csrf": "forged"}, follow_redirects=False)
        assert refused.status_code == 403 and c.get("/ui/cameras").status_code == 200
        out = c.post("/ui/logout", data={"csrf": token.group(1)}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/ui/login"
        assert c.get("/ui/cameras", follow_redirects=False).status_code == 303


def test_failed_logins_are_limited_like_bad_bearer_tokens(api_env: ApiEnv) -> None:
    with _client(api_env, ApiSettings(failed_auth_limit=2, failed_auth_window_seconds=60)) as c:
        assert _login(c, "wrong-1")[0] == 401
        assert _login(c, "wrong-2")[0] == 401
        status, text = _login(c, api_env.tokens["admin"])  # even a good token, while blocked
        assert status == 429 and _T("login.throttled", s="")[:40] in text
        assert c.get("/api/v1/me", headers=api_env.auth("admin")).status_code == 429  # one counter for both
    assert api_env.audit.events(AuditFilter(action="auth.throttled"))


def test_scope_and_role_on_every_page(api_env: ApiEnv) -> None:
    seq = api_env.seqs["cam-a"][10]
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["owner"])[0] == 303
        listed = c.get("/ui/cameras").text
        assert "mall-1" in listed and "cam-a" not in listed and "kota-1" not in listed
        for url in ("/ui/cameras/cam-a", "/ui/cameras/cam-a/day.json?day=2025-03-14", f"/ui/media/cam-a/{seq}",
                    "/ui/cameras/cam-a/playlist.m3u8?start=2025-03-14T09:00:00Z&end=2025-03-14T09:10:00Z"):
            r = c.get(url)
            assert r.status_code == 404 and "Traceback" not in r.text, url
        assert c.get("/ui/cameras/mall-1?day=2025-03-14").status_code == 200
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["auditor"])[0] == 303
        listed = c.get("/ui/cameras").text
        assert "cam-a" in listed and 'href="/ui/cameras/cam-a"' not in listed and "Last segment" not in listed
        for url in ("/ui/cameras/cam-a", f"/ui/media/cam-a/{seq}",
                    "/ui/cameras/cam-a/playlist.m3u8?start=2025-03-14T09:00:00Z&end=2025-03-14T09:10:00Z"):
            assert c.get(url).status_code == 403, url
    with _client(api_env) as c:
        hold = {"case_id": "LP/1/2025", "reason": "hit and run", "cameras": ["cam-a"],
                "start": "2025-03-14T09:01:00Z", "end": "2025-03-14T16:02:00+07:00"}
        assert c.post("/api/v1/holds", json=hold, headers=api_env.auth("investigator")).status_code == 201
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        day = c.get("/ui/cameras/cam-a/day.json", params={"day": "2025-03-14"}).json()
        t0 = 1741942800000  # 2025-03-14T09:00:00Z in ms
        assert day["held"] == [[t0 + 60_000, t0 + 120_000]] and day["start"] == t0 - 16 * 3600_000
        assert day["recorded"] and day["pruned"] == [[t0, t0 + 30_000]]
        assert [(g["reason"], g["start_utc"]) for g in day["gaps"]] == [("camera_unreachable",
                                                                         "2025-03-14T09:05:00.000000Z")]
        body = c.get(f"/ui/media/cam-a/{seq}")
        assert body.status_code == 200 and len(body.content) == 2000
        bad = c.get("/ui/cameras/cam-a", params={"day": "2025-02-30"})
        assert bad.status_code in (400, 422) and "day" in bad.text and "Traceback" not in bad.text
    played = api_env.audit.events(AuditFilter(action="web.playback.segment"))
    assert {e.record.status for e in played} == {200, 403, 404}


_PAGES = {  # every GET route under /ui (static files aside) -> (URL for cam-a, status per role)
    "/ui/login": ("/ui/login", {"admin": 200, "investigator": 200, "legal": 200, "owner": 200, "auditor": 200}),
    "/ui/cameras": ("/ui/cameras?q=Simpang", {r: 200 for r in ("admin", "investigator", "legal", "owner", "auditor")}),
    "/ui/cameras/{camera_id:str}": ("/ui/cameras/cam-a?day=2025-03-14",
                                    {"admin": 200, "investigator": 200, "legal": 200, "owner": 404, "auditor": 403}),
    "/ui/cameras/{camera_id:str}/day.json": ("/ui/cameras/cam-a/day.json?day=2025-03-14",
                                             {"admin": 200, "investigator": 200, "legal": 200, "owner": 404,
                                              "auditor": 403}),
    "/ui/cameras/{camera_id:str}/playlist.m3u8": (
        "/ui/cameras/cam-a/playlist.m3u8?start=2025-03-14T09:00:00Z&end=2025-03-14T09:10:00Z",
        {"admin": 403, "investigator": 200, "legal": 200, "owner": 404, "auditor": 403}),
    "/ui/media/{camera_id:str}/{seq:int}": ("/ui/media/cam-a/{seq}",
                                            {"admin": 403, "investigator": 200, "legal": 200, "owner": 404,
                                             "auditor": 403}),
    "/ui/grid": ("/ui/grid?cameras=cam-a,kota-1&at=2025-03-14T16:00:00",
                 {"admin": 403, "investigator": 200, "legal": 200, "owner": 404, "auditor": 403}),
    "/ui/verify": ("/ui/verify", {"admin": 200, "investigator": 403, "legal": 200, "owner": 403, "auditor": 200}),
    "/ui/exports": ("/ui/exports", {r: 200 for r in ("admin", "investigator", "legal", "owner", "auditor")}),
    "/ui/exports/{export_id:str}": ("/ui/exports/{eid}", {"admin": 200, "investigator": 200, "legal": 200,
                                                          "owner": 404, "auditor": 200}),
    "/ui/exports/new": ("/ui/exports/new", {"admin": 403, "investigator": 200, "legal": 200, "owner": 403,
                                            "auditor": 403}),
    "/ui/exports/{export_id:str}/progress": ("/ui/exports/{eid}/progress", {"admin": 200, "investigator": 200,
                                                                          "legal": 200, "owner": 404, "auditor": 200}),
    "/ui/exports/{export_id:str}/package": ("/ui/exports/{eid}/package", {"admin": 403, "investigator": 409,
                                                                        "legal": 409, "owner": 403, "auditor": 403}),
    "/ui/map": ("/ui/map", {r: 200 for r in ("admin", "investigator", "legal", "owner", "auditor")}),
    "/ui/map/cameras.json": ("/ui/map/cameras.json", {r: 200 for r in ("admin", "investigator", "legal", "owner",
                                                                       "auditor")}),
    "/ui/map/sightings.json": ("/ui/map/sightings.json?lat=-7.4722&lon=112.4338&radius_m=100&start=2025-03-14T16:00"
                               "&end=2025-03-14T16:10", {"admin": 200, "investigator": 200, "legal": 200, "owner": 200,
                                                         "auditor": 403}),
    "/ui/holds": ("/ui/holds", {"admin": 200, "investigator": 200, "legal": 200, "owner": 403, "auditor": 403}),
    "/ui/audit": ("/ui/audit?actor=inv1", {"admin": 403, "investigator": 403, "legal": 403, "owner": 403,
                                           "auditor": 200}),
}
_POSTS = {"/ui/login", "/ui/logout", "/ui/verify", "/ui/holds", "/ui/holds/{hold_id:int}/release", "/ui/exports",
          "/ui/exports/{export_id:str}/decision", "/ui/language"}  # forms: tested here and in test_web_evidence.py


def test_every_page_route_as_every_role(api_env: ApiEnv) -> None:
    app = create_app(api_env.deps, pages=web_pages(api_env.store.get_bytes))
    gets = {r.path for r in app.routes if r.path.startswith("/ui") and not r.path.startswith("/ui/static")
            and "GET" in getattr(r, "methods", set())}  # fmt: skip
    posts = {r.path for r in app.routes if r.path.startswith("/ui") and "POST" in getattr(r, "methods", set())}
    assert gets == set(_PAGES) and posts == _POSTS  # a new page route needs its row here
    seq = api_env.seqs["cam-a"][10]
    eid = requested_export(api_env, "cam-a")
    for role in ("admin", "investigator", "legal", "owner", "auditor"):
        with _client(api_env) as c:
            assert _login(c, api_env.tokens[role])[0] == 303
            for url, expect in _PAGES.values():
                r = c.get(url.format(seq=seq, eid=eid), follow_redirects=False)
                assert r.status_code == expect[role], (role, url, r.text[:200])
                assert "Traceback" not in r.text
        with _client(api_env) as anonymous:  # without a session: the login form, for every page
            for path, (url, _) in _PAGES.items():
                r = anonymous.get(url.format(seq=seq, eid=eid), follow_redirects=False)
                assert r.status_code == (200 if path == "/ui/login" else 303), url


def test_a_revoked_session_goes_to_login_and_is_dropped(api_env: ApiEnv) -> None:
    """Revoking the session's token (or its user) ends the session at the next page load: 303 to
    the login form, once audited auth.failed; later loads are plain 'no session' (not counted,
    so the failed-login limit of 2 is never reached by the revoked browser)."""
    settings = ApiSettings(failed_auth_limit=2, failed_auth_window_seconds=60)
    issued = api_env.identity.create_token("inv1", days=1, label="web")
    with _client(api_env, settings) as c:
        assert _login(c, issued.secret)[0] == 303
        assert c.get("/ui/cameras", follow_redirects=False).status_code == 200
        api_env.identity.revoke_token(issued.token.id)
        for _ in range(4):
            r = c.get("/ui/cameras", follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/ui/login", r.text[:200]
        assert c.get("/ui/login").status_code == 200  # the address is not blocked
        assert _login(c, api_env.tokens["legal"])[0] == 303  # a good token still logs in
    failed = [e.record for e in api_env.audit.events(AuditFilter(action="auth.failed", newest_first=False))
              if e.record.detail.get("attempted") == "web.cameras"]
    assert len(failed) == 1 and "revoked" in str(failed[0].detail["reason"])
    api_env.identity.add_user("gone2", "Leaving", Role.INVESTIGATOR, agency="police")
    with _client(api_env, settings) as c:
        assert _login(c, api_env.identity.create_token("gone2", days=1).secret)[0] == 303
        api_env.identity.revoke_user("gone2")
        for _ in range(3):
            r = c.get("/ui/cameras", follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/ui/login"


def test_pages_show_the_configured_zone_and_its_abbreviation(api_env: ApiEnv) -> None:
    """[api] display_timezone decides the pages' zone: Asia/Makassar is WITA (UTC+8), never WIB;
    the default Asia/Jakarta is WIB. The abbreviation comes from zoneinfo, UTC stays on hover."""
    makassar = ApiSettings(display_timezone="Asia/Makassar", failed_auth_limit=0)
    with _client(api_env, makassar) as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        cams = c.get("/ui/cameras").text
        assert _T("cameras.last", zone="WITA") in cams and "WIB" not in cams
        page = c.get("/ui/cameras/cam-a?day=2025-03-14").text
        assert 'data-zone="Asia/Makassar"' in page and 'data-zone-abbrs="{&#34;480&#34;: &#34;WITA&#34;}"' in page
        assert "2025-03-14 (WITA)" in page and "WIB" not in page
        day = c.get("/ui/cameras/cam-a/day.json", params={"day": "2025-03-14"}).json()
        assert day["zone"] == "Asia/Makassar" and day["start"] == 1741942800000 - 17 * 3600_000  # 00:00 WITA
        assert day["zone_abbrs"] == {"480": "WITA"}
        assert _T("export.range", zone="WITA") in c.get("/ui/exports").text
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["auditor"])[0] == 303
        audit = c.get("/ui/audit").text
        assert _T("audit.when", zone="WIB") in audit and _T("field.since", zone="WIB") in audit


def _log_segment(env: ApiEnv, camera: str, begin: datetime, body: bytes, container: str, logged: bytes) -> int:
    """Store ``body`` as a segment of ``camera`` in ``container``; the log vouches for ``logged``."""
    key = f"{camera}/{begin:%Y/%m/%d/%H%M%S}.seg"
    put = env.store.put_bytes(env.media, key, body, content_type="application/octet-stream",
                              retention=Retention(LockMode.GOVERNANCE, datetime.now(UTC) + timedelta(days=1)))
    facts = SegmentFacts(object_key=key, version_id=put.version_id, sha256=hashlib.sha256(logged).hexdigest(),
                         size=len(logged), start=begin, end=begin + SEG, duration_us=10_000_000,
                         media=replace(MEDIA, container=container))  # fmt: skip
    return env.ledger.append_segment(camera, facts).seq


def test_ui_media_answers_with_the_segments_own_type_and_only_logged_bytes(api_env: ApiEnv) -> None:
    """/ui/media gives the media type of the segment's logged container (the API's content_type:
    video/mp2t, video/mp4, video/x-matroska), and never bytes that differ from the logged hash."""
    begin = T0 + timedelta(hours=1)
    mkv = _log_segment(api_env, "kota-1", begin, b"mkv-bytes" * 50, "matroska", b"mkv-bytes" * 50)
    mp4 = _log_segment(api_env, "kota-1", begin + SEG, b"mp4-bytes" * 50, "mp4", b"mp4-bytes" * 50)
    bad = _log_segment(api_env, "kota-1", begin + 2 * SEG, b"replaced" * 50, "mpegts", b"original" * 50)
    ts = api_env.seqs["kota-1"][0]
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        for seq, kind in ((mkv, "video/x-matroska"), (mp4, "video/mp4"), (ts, "video/mp2t")):
            r = c.get(f"/ui/media/kota-1/{seq}")
            assert r.status_code == 200 and r.headers["content-type"] == kind, (seq, r.headers)
        assert c.get(f"/ui/media/kota-1/{mkv}").content == b"mkv-bytes" * 50
        r = c.get(f"/ui/media/kota-1/{bad}")
        assert r.status_code >= 500 and b"replaced" not in r.content and "differ" in r.text, r.text[:300]
    served = api_env.audit.events(AuditFilter(action="web.playback.segment", newest_first=True, limit=1))
    assert served[0].record.status >= 500 and "differ" in str(served[0].record.detail.get("error"))


def _csrf(c: TestClient, url: str) -> str:  # type: ignore[type-arg]
    found = _CSRF.search(c.get(url).text)
    assert found
    return found.group(1)


def test_holds_page_places_and_releases_through_the_hold_service(api_env: ApiEnv) -> None:
    """An investigator places a hold with the form (bad input first: each field named, what was
    typed kept, nothing written), a legal user of the same agency releases it with a reason; the
    owner and the auditor have no Holds page (no link, 403 by URL); the retention section shows
    the plan and the owners' policies to the roles with retention.read only."""
    policies = load_policies(Path(__file__).parents[2] / "retention_policies")
    deps = replace(api_env.deps, retention_policies=lambda: policies)
    holds = api_env.deps.holds
    assert holds is not None
    before = len(holds.list_holds(include_inactive=True))
    with TestClient(create_app(deps, pages=web_pages()), base_url="http://127.0.0.1") as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        page = c.get("/ui/holds").text
        assert 'id="nav-holds"' in page and 'id="hold-form"' in page and "retention-plan" not in page
        token = _csrf(c, "/ui/holds")
        bad = {"csrf": token, "case_id": "LP/9/2025", "reason": "", "cameras": "cam-a mall-1",
               "start": "2025-03-14T16:10", "end": "2025-03-14T16:05"}
        r = c.post("/ui/holds", data=bad, follow_redirects=False)
        assert r.status_code == 400 and "Traceback" not in r.text
        fields = set(re.findall(r'data-field="([a-z_]+)"', r.text))
        assert fields == {"reason", "cameras", "end"}, r.text[-1500:]
        assert _T("err.no_camera", camera="&#39;mall-1&#39;") in r.text and 'value="LP/9/2025"' in r.text
        assert 'value="2025-03-14T16:10"' in r.text and 'value="cam-a mall-1"' in r.text
        assert c.post("/ui/holds", data={**bad, "csrf": "forged"}, follow_redirects=False).status_code == 403
        assert len(holds.list_holds(include_inactive=True)) == before  # nothing written
        good = {**bad, "reason": "hit and run", "cameras": "cam-a", "end": "2025-03-14T16:20"}
        r = c.post("/ui/holds", data=good, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/holds?placed="), r.text[:300]
        hold_id = int(r.headers["location"].rsplit("=", 1)[1])
        placed = holds.get(hold_id)
        t0 = us_from_utc(T0)
        assert (placed.start_us, placed.end_us) == (t0 + 600_000_000, t0 + 1_200_000_000)  # read as WIB
        assert placed.agency == "police" and placed.created_by == "inv1"
        shown = c.get(f"/ui/holds?placed={hold_id}").text
        assert f'data-hold="{hold_id}"' in shown and "hit and run" in shown and f'id="release-{hold_id}"' not in shown
    with TestClient(create_app(deps, pages=web_pages()), base_url="http://127.0.0.1") as c:
        assert _login(c, api_env.tokens["legal"])[0] == 303
        page = c.get("/ui/holds").text
        assert f'id="release-{hold_id}"' in page and 'id="hold-form"' not in page
        assert 'data-camera="cam-a"' in page and 'data-owner="dishub"' in page and _T("unit.days", n=30) in page
        token = _csrf(c, "/ui/holds")
        r = c.post(f"/ui/holds/{hold_id}/release", data={"csrf": token, "reason": " "}, follow_redirects=False)
        assert r.status_code == 400 and 'data-field="reason"' in r.text and holds.get(hold_id).active(t0)
        r = c.post(f"/ui/holds/{hold_id}/release", data={"csrf": token, "reason": "case closed"},
                   follow_redirects=False)  # fmt: skip
        assert r.status_code == 303 and holds.get(hold_id).release_reason == "case closed"
        assert f'data-hold="{hold_id}"' not in c.get("/ui/holds").text
    for role in ("owner", "auditor"):
        with TestClient(create_app(deps, pages=web_pages()), base_url="http://127.0.0.1") as c:
            assert _login(c, api_env.tokens[role])[0] == 303
            assert 'id="nav-holds"' not in c.get("/ui/cameras").text
            assert c.get("/ui/holds").status_code == 403
    created = api_env.audit.events(AuditFilter(action="hold.create", newest_first=True, limit=1))
    assert created and created[0].record.actor == "inv1"
    released = api_env.audit.events(AuditFilter(action="hold.release", newest_first=True, limit=1))
    assert released and released[0].record.actor == "legal1"


def test_export_request_decision_progress_and_download_forms(api_env: ApiEnv) -> None:
    """The export workflow through the pages: the request form refuses bad input field by field
    (typed kept, nothing written), then requests; the admin (policy: admin decides) sees it in the
    queue and approves; once built, the investigator downloads it whole and by Range."""
    exports = api_env.exports
    assert exports is not None
    count = len(exports.service.records())
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        assert 'id="new-export"' in c.get("/ui/exports").text
        form = c.get("/ui/exports/new", params={"cameras": "kota-1"})
        assert form.status_code == 200 and 'value="kota-1"' in form.text
        token = _csrf(c, "/ui/exports/new")
        bad = {"csrf": token, "cameras": "kota-1 mall-1", "start": "2025-03-14T16:00", "end": "yesterday",
               "case_id": "LP/77/2025", "legal_basis": "", "reason": "theft"}
        r = c.post("/ui/exports", data=bad, follow_redirects=False)
        assert r.status_code == 400 and set(re.findall(r'data-field="([a-z_]+)"', r.text)) == {
            "cameras", "end", "legal_basis"}, r.text[-1200:]
        assert 'value="LP/77/2025"' in r.text and 'value="yesterday"' in r.text
        assert len(exports.service.records()) == count  # nothing written
        good = {**bad, "cameras": "kota-1", "end": "2025-03-14T16:01", "legal_basis": "KUHAP 184"}
        assert c.post("/ui/exports", data={**good, "csrf": "x"}, follow_redirects=False).status_code == 403
        r = c.post("/ui/exports", data=good, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/exports/"), r.text[-800:]
        eid = r.headers["location"].rsplit("/", 1)[1]
        page = c.get(f"/ui/exports/{eid}").text
        assert 'data-status="requested"' in page and 'hx-trigger="every 15s"' in page  # awaiting: slow poll
        assert 'id="decision-form"' not in page and 'id="download"' not in page
        assert c.post(f"/ui/exports/{eid}/decision", data={"csrf": token, "decision": "approve"},
                      follow_redirects=False).status_code == 403  # investigators do not decide
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["admin"])[0] == 303
        listed = c.get("/ui/exports").text
        assert f'<li data-export="{eid}">' in listed and 'id="new-export"' not in listed
        page = c.get(f"/ui/exports/{eid}").text
        assert 'id="decision-form"' in page
        token = _csrf(c, f"/ui/exports/{eid}")
        r = c.post(f"/ui/exports/{eid}/decision", data={"csrf": token, "decision": "deny", "reason": ""},
                   follow_redirects=False)  # fmt: skip
        assert r.status_code == 422 and "a refusal needs a reason" in r.text  # the API's mapping
        # said at the form (inline, the form still there), not on an error page
        assert re.search(r'id="decision-error" role="alert">[^<]*a refusal needs a reason', r.text), r.text[-2000:]
        assert 'id="decision-form"' in r.text and 'aria-invalid="true"' in r.text
        r = c.post(f"/ui/exports/{eid}/decision", data={"csrf": token, "decision": "approve", "reason": "ok"},
                   follow_redirects=False)  # fmt: skip
        assert r.status_code == 303 and exports.service.record(eid).status.value == "approved"
        progress = c.get(f"/ui/exports/{eid}/progress").text
        assert 'data-status="approved"' in progress and 'hx-trigger="every 1s"' in progress
        assert f'<li data-export="{eid}">' not in c.get("/ui/exports").text
    admin = Principal("admin1", "x", Role.ADMIN, "diskominfo", None, "t")
    rec = exports.builds.build(eid, ExportActor.of(admin, "test"))
    assert rec.package_path is not None
    data = Path(rec.package_path).read_bytes()
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        progress = c.get(f"/ui/exports/{eid}/progress").text
        assert 'data-status="built"' in progress and "hx-trigger" not in progress and 'id="download"' in progress
        whole = c.get(f"/ui/exports/{eid}/package")
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["x-package-sha256"] == hashlib.sha256(data).hexdigest()
        part = c.get(f"/ui/exports/{eid}/package", headers={"Range": "bytes=10-99"})
        assert part.status_code == 206 and part.content == data[10:100]
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["auditor"])[0] == 303
        assert c.get(f"/ui/exports/{eid}/package").status_code == 403  # no footage for auditors
    events = [e.record.action for e in api_env.audit.events(AuditFilter(action="web.exports.download"))]
    assert len(events) == 3


def test_map_data_is_scoped_and_sightings_name_bad_fields(api_env: ApiEnv) -> None:
    """The map's camera data holds only the cameras the user sees (an owner: its own), with
    position and address; the sightings answer for a circle covers cam-a's recording and gap;
    bad input is a 400 JSON naming the field."""
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["owner"])[0] == 303
        cams = c.get("/ui/map/cameras.json").json()["cameras"]
        assert [x["id"] for x in cams] == ["mall-1"] and cams[0]["location"] == "Mall lobby"
        found = c.get("/ui/map/sightings.json", params={"lat": "-7.4722", "lon": "112.4338", "radius_m": "500",
                                                        "start": "2025-03-14T16:00", "end": "2025-03-14T16:10"})
        assert [x["id"] for x in found.json()["cameras"]] == ["mall-1"]  # cam-a is as near, but not the owner's
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        cams = {x["id"]: x for x in c.get("/ui/map/cameras.json").json()["cameras"]}
        assert "mall-1" not in cams and (cams["cam-a"]["lat"], cams["cam-a"]["lon"]) == (-7.4722, 112.4338)
        found = c.get("/ui/map/sightings.json", params={"lat": "-7.4722", "lon": "112.4338", "radius_m": "50",
                                                        "start": "2025-03-14T16:00", "end": "2025-03-14T16:10"}).json()
        (hit,) = found["cameras"]
        assert hit["id"] == "cam-a" and hit["gaps"][0]["reason"] == "camera_unreachable" and hit["recorded_s"] > 0
        for params, field in (({"lat": "x"}, "lat"), ({"radius_m": "-5"}, "radius_m"), ({"end": "2025-03-14T15:00"},
                              "end"), ({"start": "soon"}, "start")):  # fmt: skip
            q = {"lat": "-7.4722", "lon": "112.4338", "radius_m": "50", "start": "2025-03-14T16:00",
                 "end": "2025-03-14T16:10", **params}
            r = c.get("/ui/map/sightings.json", params=q)
            assert r.status_code == 400 and r.json()["field"] == field, (params, r.text)


def test_language_is_chosen_per_user_default_bahasa_indonesia(api_env: ApiEnv) -> None:
    """Pages start in Bahasa Indonesia; a user's choice of English holds for that user's other
    sessions, not for other users; a language outside id/en or a form without its CSRF token is refused."""
    app = create_app(api_env.deps, pages=web_pages())
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        page = c.get("/ui/cameras").text
        assert '<html lang="id">' in page and ">Kamera</a>" in page and ">Keluar</button>" in page
        token = _csrf(c, "/ui/cameras")
        assert c.post("/ui/language", data={"csrf": "x", "lang": "en"}, follow_redirects=False).status_code == 403
        bad = c.post("/ui/language", data={"csrf": token, "lang": "fr"}, follow_redirects=False)
        assert bad.status_code in (400, 422) and "one of id, en" in bad.text
        r = c.post("/ui/language", data={"csrf": token, "lang": "en", "back": "/ui/map"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ui/map"
        r = c.post("/ui/language", data={"csrf": token, "lang": "en", "back": "//evil.example/"},
                   follow_redirects=False)  # fmt: skip
        assert r.headers["location"] == "/ui/cameras"  # never off this origin
        page = c.get("/ui/cameras").text
        assert '<html lang="en">' in page and ">Cameras</a>" in page and ">Log out</button>" in page
        lanes = c.get("/ui/cameras/cam-a?day=2025-03-14").text
        assert '<span class="lane-name">unaccounted</span>' in lanes
    with TestClient(app, base_url="http://127.0.0.1") as c:  # another session of the same user
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        assert ">Cameras</a>" in c.get("/ui/cameras").text
    with TestClient(app, base_url="http://127.0.0.1") as c:  # another user
        assert _login(c, api_env.tokens["legal"])[0] == 303
        page = c.get("/ui/cameras/cam-a?day=2025-03-14").text
        assert ">Kamera</a>" in page and '<span class="lane-name">tak tercatat</span>' in page


def test_language_choice_survives_a_restart(api_env: ApiEnv) -> None:
    """The choice is stored per user in the catalog (api_user.language, migration 0014): a new app
    over the same catalog (a restart: new process memory) still shows that user's pages in English."""
    with TestClient(create_app(api_env.deps, pages=web_pages()), base_url="http://127.0.0.1") as c:
        assert _login(c, api_env.tokens["owner"])[0] == 303
        token = _csrf(c, "/ui/cameras")
        assert c.post("/ui/language", data={"csrf": token, "lang": "en"}, follow_redirects=False).status_code == 303
    assert api_env.identity.language("own1") == "en"
    try:
        with TestClient(create_app(api_env.deps, pages=web_pages()), base_url="http://127.0.0.1") as c:
            assert _login(c, api_env.tokens["owner"])[0] == 303
            page = c.get("/ui/cameras").text
            assert '<html lang="en">' in page and ">Log out</button>" in page
    finally:
        api_env.identity.set_language("own1", None)


def test_recorder_states_reconnecting_and_failed_on_camera_list_and_map(api_env: ApiEnv, tmp_path: Path) -> None:
    """The running recorder's snapshot (write_status_file, what ``archive up`` publishes) says cam-a
    is reconnecting and kota-1 failed: the camera list and the map data show those states; a stale
    snapshot says nothing (the segments' view again)."""
    import datetime as dt
    import os

    from archive.recorder.health import HealthLimits
    from archive.recorder.spool import SpoolUsage
    from archive.recorder.status import CameraState, CameraStatus, IngestStatus, RecorderStatus
    from archive.recorder.status_file import STALE_S, write_status_file
    from archive.web.status import recorder_states

    now = dt.datetime.now(dt.UTC)

    def cam(cid: str, state: CameraState) -> CameraStatus:
        return CameraStatus(cid, "rtsp://x", state, now, None, None, 0, 0, None, None, now, "camera_unreachable", (),
                            SpoolUsage(cid, 0, 0, 1, 1), IngestStatus(cid))  # fmt: skip

    path = tmp_path / "run" / "status.json"
    write_status_file(path, RecorderStatus(taken_at=now, store_available=True, store_error=None,
                                           cameras=(cam("cam-a", CameraState.RECONNECTING),
                                                    cam("kota-1", CameraState.FAILED))), HealthLimits())  # fmt: skip
    app = create_app(api_env.deps, pages=web_pages(states=lambda: recorder_states(path)))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        page = c.get("/ui/cameras").text
        assert re.search(r'data-camera="cam-a">(?:(?!</tr>).)*status-reconnecting" data-status="reconnecting">'
                         + _T("status.reconnecting") + "<", page, re.S), page
        assert re.search(r'data-camera="kota-1">(?:(?!</tr>).)*status-failed" data-status="failed">'
                         + _T("status.failed") + "<", page, re.S)
        shown = {x["id"]: x["status"] for x in c.get("/ui/map/cameras.json").json()["cameras"]}
        assert shown["cam-a"] == "reconnecting" and shown["kota-1"] == "failed"
        old = time.time() - STALE_S - 5
        os.utime(path, (old, old))
        shown = {x["id"]: x["status"] for x in c.get("/ui/map/cameras.json").json()["cameras"]}
        assert shown["cam-a"] == "no recent segment" and shown["kota-1"] == "no recent segment"


def test_status_recording_and_last_segment_beyond_the_first_window(api_env: ApiEnv) -> None:
    """A camera whose newest segment ended seconds ago is ``recording``; one whose newest ended an
    hour ago (outside the first 10-minute window, found by the 24 h one) shows that segment's end."""
    from archive.web.status import NEAR_US
    from tests.integration.api_support import record_segments

    now = datetime.now(UTC).replace(microsecond=0)
    record_segments(api_env, "kota-1", 1, start=now - SEG)
    record_segments(api_env, "cam-b", 1, start=now - timedelta(hours=1))
    assert NEAR_US < 3600 * 1_000_000
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        shown = {x["id"]: x for x in c.get("/ui/map/cameras.json").json()["cameras"]}
    assert shown["kota-1"]["status"] == "recording"
    assert shown["kota-1"]["last_utc"].startswith(f"{now:%Y-%m-%dT%H:%M:%S}")
    hour_ago = now - timedelta(hours=1) + SEG
    assert shown["cam-b"]["status"] == "no recent segment"
    assert shown["cam-b"]["last_utc"].startswith(f"{hour_ago:%Y-%m-%dT%H:%M:%S}"), shown["cam-b"]
    assert shown["cam-a"]["last_utc"] == ""  # 2025 footage only: nothing in 24 h
