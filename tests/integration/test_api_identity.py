"""Users and tokens: the service, the CLI (``archive users|tokens``) and the API, all audited."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from archive.audit.query import AuditFilter
from archive.catalog.db import make_engine
from archive.cli import main
from archive.errors import ConflictError, NotFoundError, UnauthenticatedError, ValidationError
from archive.identity.model import Role
from archive.identity.service import IdentityService
from archive.identity.tokens import token_hash
from tests.integration.api_support import ApiEnv, sealed_api_env_fixture  # noqa: F401

P = "/api/v1"


def test_tokens_are_stored_hashed_expire_and_revoke(api_env: ApiEnv) -> None:
    ident = api_env.identity
    issued = ident.create_token("inv1", days=1, label="laptop")
    with api_env.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_token WHERE id = :i"), {"i": issued.token.id}).scalar()
        everything = str(conn.execute(text("SELECT * FROM api_token")).all())
    assert stored == token_hash(issued.secret) and issued.secret not in everything
    assert ident.authenticate(issued.secret).user_id == "inv1"
    later = IdentityService(api_env.engine, now_us=lambda: time.time_ns() // 1000 + 2 * 86_400_000_000)
    with pytest.raises(UnauthenticatedError, match="expired"):
        later.authenticate(issued.secret)
    ident.revoke_token(issued.token.id)
    with pytest.raises(UnauthenticatedError, match="revoked"):
        ident.authenticate(issued.secret)
    with pytest.raises(NotFoundError):
        ident.revoke_token("nope")
    with pytest.raises(ValidationError):
        ident.add_user("x", "X", Role.OWNER, agency="police")
    with pytest.raises(NotFoundError):
        ident.add_user("x", "X", Role.OWNER, owner_id="no-such-owner")
    with pytest.raises(ConflictError):
        ident.add_user("inv1", "again", Role.INVESTIGATOR, agency="police")
    ident.revoke_user("inv1")
    with pytest.raises(ConflictError):
        ident.create_token("inv1", days=1)


def test_cached_token_still_sees_revocation_through_the_same_service(api_env: ApiEnv) -> None:
    ident = IdentityService(api_env.engine, cache_seconds=60)
    issued = ident.create_token("legal1", days=1)
    assert ident.authenticate(issued.secret).role is Role.LEGAL
    assert ident.cached(issued.secret) is not None
    ident.revoke_token(issued.token.id)
    assert ident.cached(issued.secret) is None
    with pytest.raises(UnauthenticatedError):
        ident.authenticate(issued.secret)


def test_users_and_tokens_through_the_api(api_env: ApiEnv) -> None:
    h = api_env.auth("admin")
    with TestClient(api_env.app()) as c:
        r = c.post(f"{P}/users", json={"id": "sari", "name": "Sari", "role": "owner", "owner": "mall"}, headers=h)
        assert r.status_code == 201 and r.json()["owner"] == "mall"
        assert c.post(f"{P}/users", json={"id": "sari", "name": "S", "role": "owner", "owner": "mall"},
                      headers=h).status_code == 409
        assert c.post(f"{P}/users", json={"id": "x", "name": "X", "role": "god", "agency": "police"},
                      headers=h).status_code == 422
        r = c.post(f"{P}/users", json={"id": "x"}, headers=h)  # missing fields: 422 naming them, no URL echoed
        assert r.status_code == 422 and r.json()["problems"] and "/api/v1" not in r.json()["message"], r.text
        r = c.post(f"{P}/users", json={"id": "y", "name": "Y", "role": "investigator", "agency": "police",
                                       "rol": "admin"}, headers=h)  # an unknown (mistyped) field is refused
        assert r.status_code == 422 and "rol" in r.text, r.text
        # separation of duties: the admin mints no token for sari; the operator does on the server,
        # the mall's staff confirms her, then sari makes her own token
        assert c.post(f"{P}/users/sari/tokens", json={"days": 7}, headers=h).status_code == 403
        first = {"Authorization": f"Bearer {api_env.identity.create_token('sari', days=1).secret}"}
        assert c.get(f"{P}/me", headers=first).json()["permissions"] == ["me.read"]
        assert c.post(f"{P}/users/sari/confirm", headers=api_env.auth("owner")).json()["confirmed_by"] == "own1"
        tok = c.post(f"{P}/users/sari/tokens", json={"days": 7, "label": "phone"}, headers=first).json()
        assert tok["token"].startswith("arc1_") and "shown once" in tok["note"]
        listed = c.get(f"{P}/users/sari/tokens", headers=h).json()["items"]
        assert listed[0]["id"] == tok["id"] and "token" not in listed[0]
        assert listed[0]["issued_by"] == "sari" and listed[1]["issued_by"] == "operator"
        me = c.get(f"{P}/me", headers={"Authorization": f"Bearer {tok['token']}"}).json()
        assert me["role"] == "owner" and me["owner"] == "mall" and "playback" in me["permissions"]
        assert me["confirmed"] is True and len(me["notices"]) == 1 and "operator" in me["notices"][0]
        assert c.post(f"{P}/users/sari/tokens", json={"days": 9999}, headers=first).status_code == 422
        assert c.post(f"{P}/users/sari/revoke", headers=h).json()["active"] is False
        assert c.get(f"{P}/me", headers={"Authorization": f"Bearer {tok['token']}"}).status_code == 401
    actions = [e.record.action for e in api_env.audit.events(AuditFilter(actor="admin1", newest_first=False))]
    requests = [a for a in actions if a.split(".")[0] in ("users", "tokens")]  # the gate's, after each answer
    assert requests[:3] == ["users.add", "users.add", "users.add"] and "tokens.create" in requests
    assert "users.revoke" in requests
    assert actions[:2] == ["user.add", "users.add"] and "user.revoke" in actions  # each change's own, first


def _config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "archive.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "var"}"\n[catalog]\nurl = "{url}"\n', encoding="utf-8")
    return cfg


def test_cli_users_and_tokens(tmp_path: Path, catalog_url: str) -> None:
    cfg = str(_config(tmp_path, catalog_url))

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        return main(["--config", cfg, *argv], out=out), out.getvalue()

    assert run("users", "add", "budi", "--role", "investigator", "--agency", "police", "--name", "Budi S")[0] == 0
    assert run("users", "add", "bad", "--role", "owner", "--agency", "police")[0] == 2
    code, out = run("tokens", "create", "budi", "--days", "3", "--label", "cli")
    assert code == 0
    secret = out.splitlines()[0]
    engine = make_engine(catalog_url)
    try:
        assert IdentityService(engine).authenticate(secret).user_id == "budi"
        code, out = run("users", "list")
        assert code == 0 and "budi" in out and "investigator" in out and secret not in out
        token_id = secret.split("_")[1]
        assert run("tokens", "list", "budi")[1].startswith(token_id)
        assert run("tokens", "revoke", token_id)[0] == 0
        with pytest.raises(UnauthenticatedError):
            IdentityService(engine).authenticate(secret)
        assert run("users", "revoke", "budi")[0] == 0
        assert run("tokens", "create", "budi")[0] == 2
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT action, actor, status FROM audit_event ORDER BY seq")).all()
        assert [(a, s) for a, _, s in rows] == [("users.add", 200), ("users.add", 422), ("tokens.create", 200),
                                                ("tokens.revoke", 200), ("users.revoke", 200), ("tokens.create", 409)]
        assert all(str(actor).startswith("os:") for _, actor, _ in rows)
    finally:
        engine.dispose()


def test_user_and_token_changes_commit_with_their_audit_entry(api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """SPEC 7.6 obligation 1: a user or token change whose audit entry cannot be appended is not
    stored (503); one that is stored has its entry in the trail, covered by a signed head."""
    from archive.errors import CatalogError

    h = api_env.auth("admin")
    mine = api_env.identity.create_token("inv1", days=1, label="spare")
    real = api_env.audit.record_in

    def broken(conn: object, record: object) -> None:
        raise CatalogError("audit append refused")

    with TestClient(api_env.app()) as c:
        monkeypatch.setattr(api_env.audit, "record_in", broken)
        r = c.post(f"{P}/users", json={"id": "ghost", "name": "G", "role": "investigator", "agency": "police"},
                   headers=h)
        assert r.status_code == 503, r.text
        with pytest.raises(NotFoundError):
            api_env.identity.user("ghost")
        assert c.post(f"{P}/users", json={"id": "ghost2", "name": "G", "role": "investigator", "agency": "shadow"},
                      headers=h).status_code == 503
        assert "shadow" not in dict(api_env.identity.agencies())  # not even the new agency
        assert c.post(f"{P}/tokens/{mine.token.id}/revoke", headers=h).status_code == 503
        assert api_env.identity.authenticate(mine.secret).user_id == "inv1"  # still valid: nothing stored
        inv = api_env.auth("investigator")
        before = len(api_env.identity.tokens("inv1"))
        assert c.post(f"{P}/users/inv1/tokens", json={"days": 1}, headers=inv).status_code == 503
        assert len(api_env.identity.tokens("inv1")) == before
        assert c.post(f"{P}/users/legal1/revoke", headers=h).status_code == 503
        assert api_env.identity.user("legal1").active
        monkeypatch.setattr(api_env.audit, "record_in", real)
        assert c.post(f"{P}/users", json={"id": "ghost", "name": "G", "role": "investigator", "agency": "police"},
                      headers=h).status_code == 201
        assert c.post(f"{P}/users/ghost/confirm", headers=inv).status_code == 200
    changes = [e.record for e in api_env.audit.events(AuditFilter(newest_first=False))
               if e.record.action in ("user.add", "user.confirm")]  # fmt: skip
    assert [(r.action, r.actor, r.detail.get("user")) for r in changes] == [
        ("user.add", "admin1", "ghost"), ("user.confirm", "inv1", "ghost")]
    head = api_env.audit.latest()
    assert head is not None and head.size == api_env.audit.size()  # sealed before the answer
