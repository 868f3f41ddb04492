"""Health, metrics, OpenAPI, camera changes, error bodies, and the migration matching the tables."""

from __future__ import annotations

from litestar.testing import TestClient
from sqlalchemy import inspect

from archive.audit import tables as audit_tables
from archive.audit.query import AuditFilter
from archive.catalog.db import make_engine
from archive.catalog.migrate import downgrade, upgrade
from archive.identity import tables as identity_tables
from tests.integration.api_support import ApiEnv, api_env_fixture  # noqa: F401

P = "/api/v1"


def test_migration_0004_matches_tables_and_goes_down_and_up(catalog_url: str) -> None:
    engine = make_engine(catalog_url)
    try:
        upgrade(engine)
        insp = inspect(engine)
        for table in (identity_tables.AGENCY, identity_tables.USER, identity_tables.TOKEN, audit_tables.EVENT,
                      audit_tables.NODE, audit_tables.LOCK, audit_tables.CHECKPOINT):
            assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}, table.name
            want = {i.name for i in table.indexes}
            assert want <= {i["name"] for i in insp.get_indexes(table.name)}, table.name
        downgrade(engine, "0003")
        assert "audit_event" not in inspect(engine).get_table_names()
        upgrade(engine)
        assert "audit_event" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_health_metrics_schema(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        c.get(f"{P}/cameras", headers=api_env.auth("admin"))
        h = c.get("/health")
        assert h.status_code == 200 and h.json()["ok"]
        assert [x["name"] for x in h.json()["checks"]] == ["catalog", "storage"]
        m = c.get("/metrics")
        assert m.headers["content-type"].startswith("text/plain")
        for name in ("archive_api_requests_total", "archive_audit_entries", "archive_catalog_up",
                     "archive_recorder_cameras", 'route="list_cameras"'):
            assert name in m.text
        spec = c.get("/schema/openapi.json").json()
        paths = spec["paths"]
        assert "/api/v1/recordings" in paths and "/api/v1/sightings" in paths and "/health" in paths
        assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert c.get("/schema").status_code == 200


def test_camera_change_is_audited(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        r = c.patch(f"{P}/cameras/kota-1", json={"tags": ["square", "night"], "enabled": False},
                    headers=api_env.auth("admin"))
        assert r.status_code == 200 and r.json()["tags"] == ["square", "night"] and not r.json()["enabled"]
        r = c.patch(f"{P}/cameras/kota-1", json={"latitude": 200}, headers=api_env.auth("admin"))
        assert r.status_code == 422
        r = c.patch(f"{P}/cameras/kota-1", json={"stream_url": "x"}, headers=api_env.auth("admin"))
        assert r.status_code == 422 and "stream_url" in r.text  # not a field one may change here
        assert c.patch(f"{P}/cameras/nope", json={}, headers=api_env.auth("admin")).status_code == 404
    rec = api_env.audit.events(AuditFilter(action="cameras.change", result="ok"))[0].record
    assert rec.detail["changed"] == {"tags": "('square', 'night')", "enabled": "False"}
    assert rec.detail["before"]["enabled"] == "True"
    cam = api_env.deps.registry.camera("kota-1")  # type: ignore[union-attr]
    assert cam.has_password is False and cam.stream_url == "rtsp://10.0.2.1/x"
    cam_a = api_env.deps.registry.credentials("cam-a")  # type: ignore[union-attr]
    assert cam_a is not None and cam_a.password == "secret"


def test_error_bodies(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        seen = {}
        for status, call in {
            400: lambda: c.post(f"{P}/holds", json={"case_id": "", "reason": "r", "cameras": ["kota-1"],
                                                    "start": "2025-03-14T09:00:00Z", "end": "2025-03-14T10:00:00Z"},
                                headers=api_env.auth("investigator")),
            401: lambda: c.get(f"{P}/cameras"),
            403: lambda: c.get(f"{P}/audit/events", headers=api_env.auth("admin")),
            404: lambda: c.get(f"{P}/cameras/none", headers=api_env.auth("admin")),
            405: lambda: c.delete(f"{P}/cameras/cam-a", headers=api_env.auth("admin")),
            409: lambda: c.post(f"{P}/users", json={"id": "inv1", "name": "x", "role": "legal", "agency": "a"},
                                headers=api_env.auth("admin")),
            422: lambda: c.get(f"{P}/recordings", params={"camera": "cam-a", "start": "2025-01-01", "end": "x"},
                               headers=api_env.auth("investigator")),
        }.items():
            r = call()
            assert r.status_code == status, (status, r.status_code, r.text)
            body = r.json()
            assert body["status"] == status and body["error"] and body["message"] and "Traceback" not in r.text
            seen[status] = body
        assert {p["where"] for p in seen[422]["problems"]} == {"start", "end"}
        r = c.get(f"{P}/sightings", params={"lat": "x"}, headers=api_env.auth("investigator"))
        # a named missing parameter (Litestar names the first it misses), never the URL; was a 400
        assert r.status_code == 422 and r.json()["problems"][0]["where"] in {"lon", "radius_m", "start", "end"}, r.text
        assert "/api/v1" not in r.text  # the framework's message named the URL


def test_docs_page_loads_nothing_from_elsewhere(api_env: ApiEnv) -> None:
    """/schema is this API's own page: no script at all, no resource of another origin (no CDN)."""
    with TestClient(api_env.app()) as c:
        r = c.get("/schema")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.text[:200]
        page = r.text.lower()
        assert "<script" not in page and "http://" not in page and "https://" not in page, page[:500]
        assert "/api/v1/exports/{export_id}/package" in r.text  # every operation is listed
        assert c.get("/schema/openapi.json").json()["paths"]
        assert "openapi:" in c.get("/schema/openapi.yaml").text


def test_unknown_body_fields_and_bad_parameters_are_422_with_problems(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        body = {"case_id": "C-1", "legal_basis": "KUHAP 184", "reason": "theft", "cameras": ["kota-1"],
                "start": "2025-03-14T09:00:00Z", "end": "2025-03-14T09:01:00Z", "priority": "urgent"}
        r = c.post(f"{P}/exports", json=body, headers=api_env.auth("investigator"))
        assert r.status_code == 422 and "priority" in r.json()["message"], r.text  # not silently dropped
        r = c.get(f"{P}/recordings", params={"camera": "kota-1", "start": "x", "end": "y", "limit": "many"},
                  headers=api_env.auth("investigator"))
        assert r.status_code == 422 and r.json()["problems"], r.text
        assert "/api/v1" not in r.json()["message"]  # the framework's echo of the URL is gone
