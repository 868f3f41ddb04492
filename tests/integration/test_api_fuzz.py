"""Property-based fuzzing of every route from the OpenAPI schema (schemathesis, in-process ASGI),
positive and negative data, as a role allowed on the route: never a 5xx, never a stack trace.
Plus hand-written injection and path-traversal attempts in ids and filters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from litestar.testing import TestClient
from schemathesis.generation.modes import GenerationMode

from archive.identity.policy import ROLE_PERMISSIONS, Permission
from archive.search.service import SearchService
from tests.integration.api_support import T0, ApiEnv, iso, make_env

EXAMPLES = 40


@pytest.fixture(name="api_env")
def journal_api_env(catalog_url: str, s3_store: Any, tmp_path: Path) -> Iterator[ApiEnv]:
    """The API as the runtime builds it: the audit trail seals through the local journal (SPEC 7.6)."""
    env = make_env(catalog_url, s3_store, tmp_path, journal=tmp_path / "audit" / "journal")
    yield env
    env.engine.dispose()


def _allowed_role(app: Any, method: str, path: str) -> str | None:
    for route in app.routes:
        if re.sub(r":\w+}", "}", route.path) != path:
            continue
        for handler in route.route_handlers:
            if method.upper() in handler.http_methods:
                perm = handler.opt.get("permission")
                if perm is None:
                    return None
                roles = ROLE_PERMISSIONS[Permission(perm)]
                return next(r.value for r in sorted(roles, key=lambda r: r.value != "investigator"))
    return None


def _check(resp: Any, where: str) -> None:
    assert resp.status_code < 500, f"{where}: {resp.status_code} {resp.text[:300]}"
    assert "Traceback" not in resp.text and 'File "' not in resp.text, where
    ct = resp.headers.get("content-type") or ""
    ct = ct[0] if isinstance(ct, list) else ct
    if resp.status_code >= 400 and ct.startswith("application/json") and resp.request.method != "HEAD":
        body = resp.json()  # (a HEAD answer has the GET's headers and no body: RFC 9110 9.3.2)
        assert body["status"] == resp.status_code and body["message"], (where, body)


def _fuzz(op: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        resp = case.call(headers={**(case.headers or {}), **headers})
        _check(resp, f"{op.method.upper()} {op.path} [{mode.value}] {case.path_parameters} {case.query}")

    run()


SHARDS = 4  # the operations are fuzzed in 4 tests so that pytest-xdist spreads them over its workers
MUST_SEE = {"GET /api/v1/recordings", "GET /api/v1/sightings", "POST /api/v1/holds", "GET /health"}


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    return sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: (op.path, op.method))


def test_the_schema_lists_every_route_the_shards_fuzz(api_env: ApiEnv) -> None:
    names = {f"{op.method.upper()} {op.path}" for op in _operations(api_env.app())}
    assert len(names) >= 30 and names >= MUST_SEE


@pytest.mark.parametrize("shard", range(SHARDS))
def test_fuzz_every_route_from_openapi(api_env: ApiEnv, shard: int) -> None:
    app = api_env.app()
    ops = _operations(app)
    assert len(ops) >= 30
    mine = ops[shard::SHARDS]  # every operation is in exactly one shard
    assert mine
    for op in mine:
        role = _allowed_role(app, op.method, op.path)
        headers = {"Authorization": f"Bearer {api_env.tokens[role]}"} if role else {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(op, mode, headers)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to break in an operation without inputs


INJECTIONS = [
    "' OR '1'='1", "cam-a' --", "cam-a\"; DROP TABLE segment; --", "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd",
    "%00", "\x00", "cam-a\x00", "%", "_", "*", "cam%", "{}", "[]", "$where", "<script>alert(1)</script>",
    "a" * 5000, "ñ", "\ud800", "🙂", "1e309", "NaN", "-1", "Robert'); DROP TABLE api_user;--",
]


@pytest.mark.parametrize("role", ["investigator", "admin"])
def test_injection_and_traversal_in_ids_and_filters(api_env: ApiEnv, role: str) -> None:
    h = api_env.auth(role)
    rng = {"start": iso(T0), "end": iso(T0 + timedelta(minutes=5))}
    with TestClient(api_env.app()) as client:
        for bad in INJECTIONS:
            safe = bad.replace("\ud800", "?")
            quoted = quote(safe, safe="")
            calls = [
                ("GET", f"/api/v1/cameras/{quoted}", {}),
                ("GET", f"/api/v1/cameras/{quoted}/segments/1/url", {}),
                ("GET", f"/api/v1/cameras/{safe}", {}),
                ("GET", f"/api/v1/cameras/{safe}/segments/1/url", {}),
                ("GET", f"/api/v1/cameras/{safe}/playlist.m3u8", {"params": rng}),
                ("GET", "/api/v1/cameras", {"params": {"owner": safe}}),
                ("GET", "/api/v1/cameras", {"params": {"tag": safe}}),
                ("GET", "/api/v1/cameras", {"params": {"q": safe}}),
                ("GET", "/api/v1/cameras", {"params": {"bbox": safe}}),
                ("GET", "/api/v1/recordings", {"params": {"camera": safe, **rng}}),
                ("GET", "/api/v1/recordings", {"params": {"camera": "cam-a", "start": safe, "end": rng["end"]}}),
                ("GET", "/api/v1/recordings", {"params": {"camera": "cam-a", **rng, "cursor": safe}}),
                ("GET", "/api/v1/sightings", {"params": {"lat": safe, "lon": 112.4, "radius_m": 100, **rng}}),
                ("GET", "/api/v1/holds", {"params": {"camera": safe}}),
                ("GET", f"/api/v1/exports/{safe}", {}),
                ("POST", "/api/v1/holds", {"json": {"case_id": safe, "reason": safe, "cameras": [safe], **rng}}),
            ]
            for method, url, kw in calls:
                try:
                    resp = client.request(method, url, headers=h, **kw)
                except (UnicodeEncodeError, httpx.InvalidURL):
                    continue  # the client cannot even send it
                _check(resp, f"{method} {url[:80]} {str(kw)[:80]}")
                scoped = url.startswith("/api/v1/cameras") and "params" in kw and role == "investigator"
                if scoped and resp.status_code == 200:  # filters never widen the scope
                    assert {c["owner"] for c in resp.json()["items"]} <= {"dishub", "kota"}
    # the catalog is intact and nothing leaked outside the scope
    with api_env.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM segment").scalar() > 0
        assert conn.exec_driver_sql("SELECT count(*) FROM api_user").scalar() >= 5


def test_like_wildcards_are_literal(api_env: ApiEnv) -> None:
    search = SearchService(api_env.engine)
    with TestClient(api_env.app()) as client:
        h = api_env.auth("admin")
        assert client.get("/api/v1/cameras", params={"q": "%"}, headers=h).json()["items"] == []
        assert client.get("/api/v1/cameras", params={"q": "_"}, headers=h).json()["items"] == []
        assert client.get("/api/v1/cameras", params={"tag": "inter%"}, headers=h).json()["items"] == []
        got = client.get("/api/v1/cameras", params={"tag": "intersection"}, headers=h).json()["items"]
        assert {c["id"] for c in got} == {"cam-a", "cam-b"}
    assert search.limits.page_max >= 1


def test_path_traversal_never_reaches_the_store(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as client:
        for url in ("/api/v1/cameras/..%2F..%2Fmall-1/segments/1/url", "/api/v1/cameras/cam-a/../mall-1",
                    "/api/v1/cameras/%2e%2e/segments/1/url", "/api/v1/../api/v1/audit/events"):
            r = client.get(url, headers=api_env.auth("investigator"))
            assert r.status_code in (400, 403, 404, 405, 422), (url, r.status_code)
