"""The Verify and Audit pages against the real app (SeaweedFS + SQLite/PostgreSQL catalog): a real
built package uploaded through the page gets the API's verdict, step and checks (one upload path),
is recorded in the custody log; an upload without the session's CSRF token or with an empty body
is refused; the exports list shows status and each export its custody log in words, within the
service's visibility rules; the audit trail is filtered by who/what/when with its verification status, bad input
names the field and keeps what was typed; the links are absent for roles that may not see them."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from litestar.testing import TestClient

from archive.api.app import create_app
from archive.api.deps import ApiSettings
from archive.audit.query import AuditFilter
from archive.export.model import Actor as ExportActor
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope
from archive.web import web_pages
from archive.web.i18n import translator
from tests.integration.api_support import ApiEnv, api_env_fixture  # noqa: F401
from tests.integration.test_web_session import _login, requested_export

_CSRF = re.compile(r'data-csrf="([^"]+)"')


def _client(env: ApiEnv, settings: ApiSettings | None = None) -> TestClient:  # type: ignore[type-arg]
    deps = dataclasses.replace(env.deps, settings=settings) if settings else env.deps
    return TestClient(create_app(deps, pages=web_pages()), base_url="http://127.0.0.1")


def built_package(env: ApiEnv, camera: str = "kota-1") -> tuple[str, bytes]:
    """(export id, zip bytes) of a real package of ``camera`` over [T0, T0 + 60 s), requested by
    inv1 and approved and built by admin1."""
    svc = env.exports.service
    admin = Principal("admin1", "x", Role.ADMIN, "diskominfo", None, "t")
    eid = requested_export(env, camera)
    svc.decide(admin, CameraScope(None), eid, True, "ok", origin="test")
    rec = env.exports.builds.build(eid, ExportActor.of(admin, "test"))
    assert rec.package_path is not None
    return eid, Path(rec.package_path).read_bytes()


def test_verify_page_gives_the_apis_verdict_for_a_real_package(api_env: ApiEnv) -> None:
    eid, data = built_package(api_env)
    tampered = bytearray(data)
    tampered[len(data) // 3] ^= 0x01
    with _client(api_env) as c:
        api = [c.post("/api/v1/exports/verify", content=body, headers=api_env.auth("legal")).json()
               for body in (data, bytes(tampered))]  # fmt: skip
        assert [a["status"] for a in api] == ["VALID", "INVALID"]
        assert _login(c, api_env.tokens["legal"])[0] == 303
        form = c.get("/ui/verify")
        assert form.status_code == 200 and 'id="nav-verify"' in form.text and 'id="nav-audit"' not in form.text
        csrf = _CSRF.search(form.text)
        assert csrf
        head = {"X-CSRF-Token": csrf.group(1), "Content-Type": "application/zip"}
        for body, want in zip((data, bytes(tampered)), api, strict=True):
            r = c.post("/ui/verify", content=body, headers=head)
            assert r.status_code == 200, r.text[:300]
            assert f'data-status="{want["status"]}"' in r.text
            step = want["failed_step"]
            assert f'data-failed-step="{step if step is not None else ""}"' in r.text
            for check in want["checks"]:
                assert f'data-check="{check["name"]}" data-step="{check["step"]}" ' \
                       f'data-ok="{"yes" if check["ok"] else "no"}"' in r.text
                for failure in check["failures"]:
                    assert failure.replace("'", "&#39;").replace('"', "&#34;")[:60] in r.text
            assert want["verdict"][:40].replace("'", "&#39;") in r.text and "Traceback" not in r.text
        refused = c.post("/ui/verify", content=data, headers={"X-CSRF-Token": "forged"})
        assert refused.status_code == 403 and "CSRF" in refused.text
        empty = c.post("/ui/verify", content=b"", headers=head)
        assert empty.status_code == 400 and "send the package zip" in empty.text and "Traceback" not in empty.text
    with _client(api_env, ApiSettings(failed_auth_limit=0, verify_upload_max_bytes=len(data) - 1)) as c:
        assert _login(c, api_env.tokens["legal"])[0] == 303
        csrf = _CSRF.search(c.get("/ui/verify").text)
        assert csrf
        big = c.post("/ui/verify", content=data, headers={"X-CSRF-Token": csrf.group(1)})
        assert big.status_code == 413 and "Traceback" not in big.text, big.text[:200]
    uploads = api_env.exports.service.settings.exports_dir / "uploads"
    assert not list(uploads.iterdir())  # every upload deleted after its verification
    custody = [json.loads(x) for x in api_env.exports.service.custody.lines(eid)]
    tools = [e.get("detail", e).get("tool") for e in custody if e["event"] == "verified"]
    assert tools.count("web page") == 2 and tools.count("API upload") == 2, custody[-1]
    seen = api_env.audit.events(AuditFilter(action="web.verify", newest_first=False))
    assert [(e.record.actor, e.record.status, e.record.detail.get("valid")) for e in seen] == [
        ("legal1", 200, True), ("legal1", 200, False), ("legal1", 403, None), ("legal1", 400, None),
        ("legal1", 413, None)]


def test_audit_page_filters_by_who_what_when_and_shows_the_trails_status(api_env: ApiEnv) -> None:
    with _client(api_env) as c:
        assert c.get("/api/v1/cameras", headers=api_env.auth("investigator")).status_code == 200
        assert _login(c, api_env.tokens["auditor"])[0] == 303
        home = c.get("/ui/cameras").text
        assert 'id="nav-audit"' in home and 'id="nav-verify"' in home
        r = c.get("/ui/audit")
        assert r.status_code == 200 and 'id="audit-check"' in r.text and 'data-ok="yes"' in r.text
        assert 'data-actor="inv1"' in r.text and 'data-action="web.login"' in r.text
        only = c.get("/ui/audit", params={"actor": "inv1"}).text
        actors = set(re.findall(r'data-actor="([^"]+)"', only))
        assert actors == {"inv1"}, actors
        what = c.get("/ui/audit", params={"action": "web.login", "result": "ok"}).text
        assert set(re.findall(r'data-action="([^"]+)"', what)) == {"web.login"}
        future = c.get("/ui/audit", params={"since": "2999-01-01T00:00"}).text
        assert translator("id")("audit.none") in future and 'data-seq=' not in future
        bad = c.get("/ui/audit", params={"since": "yesterday-ish", "actor": "inv1", "result": "maybe"})
        assert bad.status_code == 400 and "Traceback" not in bad.text
        assert 'data-field="since"' in bad.text and 'data-field="result"' in bad.text
        assert 'value="yesterday-ish"' in bad.text and 'value="inv1"' in bad.text and "data-seq=" not in bad.text
    for role in ("admin", "investigator", "legal", "owner"):
        with _client(api_env) as c:
            assert _login(c, api_env.tokens[role])[0] == 303
            home = c.get("/ui/cameras").text
            assert 'id="nav-audit"' not in home and ('id="nav-verify"' in home) == (role in ("admin", "legal"))
            assert c.get("/ui/audit").status_code == 403
    read = api_env.audit.events(AuditFilter(action="web.audit", newest_first=False))
    assert [e.record.status for e in read] == [200, 200, 200, 200, 400, 403, 403, 403, 403]


def test_exports_pages_show_status_and_custody_in_words(api_env: ApiEnv) -> None:
    eid, _ = built_package(api_env)  # kota-1 (owner kota), requested by the police
    waiting = requested_export(api_env, "mall-1")
    with _client(api_env) as c:
        assert _login(c, api_env.tokens["investigator"])[0] == 303
        assert 'id="nav-exports"' in c.get("/ui/cameras").text
        listed = c.get("/ui/exports").text
        assert f'data-export="{eid}" data-status="built"' in listed
        assert f'data-export="{waiting}" data-status="requested"' in listed
        one = c.get(f"/ui/exports/{eid}")
        assert one.status_code == 200 and 'data-status="built"' in one.text
        custody = re.findall(r"<li>([^<]+)</li>", one.text.split('id="custody"', 1)[1])
        assert len(custody) == 5 and "requested the export of cameras kota-1" in custody[0], custody
        assert "(user admin1, admin, agency diskominfo) approved" in custody[1] and "built the package" in custody[3]
        assert "stored the package file" in custody[4]
        assert "WIB" in custody[0] and "UTC" in custody[0]
        assert c.get("/ui/exports/nope").status_code == 404
    with _client(api_env) as c:  # mall staff: only the mall export, and not the other owner's one
        assert _login(c, api_env.tokens["owner"])[0] == 303
        listed = c.get("/ui/exports").text
        assert f'data-export="{waiting}"' in listed and f'data-export="{eid}"' not in listed
        assert c.get(f"/ui/exports/{eid}").status_code == 404
        mine = c.get(f"/ui/exports/{waiting}").text
        assert "requested the export of cameras mall-1" in mine
    seen = api_env.audit.events(AuditFilter(action="web.export", newest_first=False))
    assert [(e.record.actor, e.record.status) for e in seen] == [("inv1", 200), ("inv1", 404), ("own1", 404),
                                                                  ("own1", 200)]
