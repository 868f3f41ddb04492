"""The audit trail: what is recorded, hash chain and signed checkpoints, verification by
auditors, tampering detected, rows append-only, and fail-closed when it cannot be written."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from archive.audit.query import AuditFilter
from archive.audit.signer import latest_key
from archive.errors import CatalogError
from tests.integration.api_support import T0, ApiEnv, iso, sealed_api_env_fixture  # noqa: F401

P = "/api/v1"


def _traffic(env: ApiEnv, c: TestClient) -> None:  # type: ignore[type-arg]
    c.get(f"{P}/cameras", params={"q": "alun"}, headers=env.auth("investigator"))
    c.get(
        f"{P}/recordings",
        params={"camera": "cam-a", "start": iso(T0), "end": "2025-03-14T16:01:00+07:00"},
        headers=env.auth("legal"),
    )
    c.get(f"{P}/users", headers=env.auth("investigator"))  # denied
    c.get(f"{P}/me", headers={"Authorization": "Bearer nope"})  # failed login
    c.post(
        f"{P}/users",
        json={"id": "budi", "name": "Budi", "role": "investigator", "agency": "police"},
        headers=env.auth("admin"),
    )
    c.post(f"{P}/cameras/cam-a/verify", headers=env.auth("auditor"))


def test_who_what_when_where_result(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        _traffic(api_env, c)
        r = c.get(f"{P}/audit/events", params={"order": "oldest"}, headers=api_env.auth("auditor"))
        assert r.status_code == 200
        items = r.json()["items"]
    got = [(i["action"], i["actor"], i["role"], i["agency"], i["result"], i["status"]) for i in items]
    assert got[:7] == [
        ("cameras.search", "inv1", "investigator", "police", "ok", 200),
        ("recordings.search", "legal1", "legal", "police", "ok", 200),
        ("users.list", "inv1", "investigator", "police", "denied", 403),
        ("auth.failed", None, None, None, "denied", 401),
        ("user.add", "admin1", "admin", "diskominfo", "ok", 200),  # the change's own, in its transaction
        ("users.add", "admin1", "admin", "diskominfo", "ok", 201),
        ("verify.camera", "aud1", "auditor", "inspektorat", "ok", 200),
    ]
    first = items[0]
    assert first["at"].endswith("Z") and first["at_local"].endswith("+07:00") and first["ip"] == "testclient"
    assert first["target"] == {"query.q": "alun"} and len(first["entry_hash"]) == 64
    assert items[2]["detail"]["error"]
    assert items[3]["detail"]["reason"] == "malformed token (expected arc1_<id>_<secret>)"
    assert items[6]["detail"]["ok"] is True
    assert items[1]["target"]["query.end"] == "2025-03-14T16:01:00+07:00"


def test_chain_checkpoint_verify_and_tamper(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        _traffic(api_env, c)
        head = api_env.audit.checkpoint()
        assert head is not None and head.size == api_env.audit.size()
        _traffic(api_env, c)
        head2 = api_env.audit.checkpoint()
        assert head2 is not None and head2.size > head.size
        v = c.get(f"{P}/audit/verify", headers=api_env.auth("auditor")).json()
        # every stored head is checked; one signed head per request (SPEC 7.6, archive.audit.sealing),
        # and the verify request itself is sealed before its answer (signed_size below)
        with api_env.engine.connect() as conn:
            stored = int(conn.execute(text("SELECT count(*) FROM audit_checkpoint")).scalar_one())
        assert v["ok"] and v["failures"] == [] and v["checkpoints_checked"] == stored - 1 >= 2  # - its own
        assert v["signed_size"] >= head2.size
        h = c.get(f"{P}/audit/head", headers=api_env.auth("auditor")).json()
        assert h["signed_size"] == head2.size + 1 and h["note"].startswith("archive.mojokerto/audit\n")
        # published under COMPLIANCE object lock in the log bucket
        info = api_env.store.stat(api_env.logs, latest_key(api_env.audit.origin))
        assert info.retention is not None and info.retention.mode.value == "COMPLIANCE"

    # rows are append-only for everyone using the catalog
    with pytest.raises(Exception, match="append-only"), api_env.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET status = 200 WHERE seq = 2"))
    with pytest.raises(Exception, match="append-only"), api_env.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 0"))

    # a database administrator drops the trigger and rewrites a denial into a success: detected
    with api_env.engine.begin() as conn:
        if api_env.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
        row = conn.execute(text("SELECT data FROM audit_event WHERE seq = 2")).one()
        forged = bytes(row[0]).replace(b'"result":"denied"', b'"result":"ok"').replace(b'"status":403', b'"status":200')
        conn.execute(text("UPDATE audit_event SET data = :d, status = 200, result = 'ok' WHERE seq = 2"), {"d": forged})
    report = api_env.audit.verify()
    assert not report.ok
    joined = "\n".join(report.failures)
    assert "seq 2" in joined and ("hash" in joined or "prev" in joined)


def test_truncation_is_detected_against_the_published_head(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        _traffic(api_env, c)
    head = api_env.audit.checkpoint()
    assert head is not None
    with api_env.engine.begin() as conn:
        if api_env.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
            conn.execute(text("DROP TRIGGER audit_checkpoint_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
            conn.execute(text("DROP TRIGGER audit_checkpoint_append_only ON audit_checkpoint"))
        conn.execute(text("DELETE FROM audit_event WHERE seq >= 3"))
        conn.execute(text("DELETE FROM audit_checkpoint"))
    report = api_env.audit.verify()
    assert not report.ok and any("published" in f for f in report.failures)
    with pytest.raises(Exception, match="refusing"):
        api_env.audit.checkpoint()


def test_fail_closed_when_the_trail_cannot_be_written(api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_record: object) -> None:
        raise CatalogError("disk full")

    monkeypatch.setattr(api_env.audit, "record", broken)
    seq = api_env.seqs["cam-a"][5]
    with TestClient(api_env.app()) as c:
        r = c.get(f"{P}/cameras/cam-a/segments/{seq}/url", headers=api_env.auth("investigator"))
        assert r.status_code == 503 and "url" not in r.json() and r.json()["error"] == "catalog_unavailable"
        assert c.get(f"{P}/me", headers=api_env.auth("investigator")).status_code == 200  # not audited: served


def test_checkpointer_runs_with_the_app(api_env: ApiEnv) -> None:
    from dataclasses import replace

    from archive.api.app import create_app

    app = create_app(replace(api_env.deps, checkpoint_audit=True))
    with TestClient(app) as c:
        c.get(f"{P}/cameras", headers=api_env.auth("admin"))
    head = api_env.audit.latest()  # signed at shutdown
    assert head is not None and head.size == api_env.audit.size()
    assert api_env.audit.events(AuditFilter(limit=1))[0].record.action == "cameras.search"


def test_erase_bound_every_answered_request_is_covered(api_env: ApiEnv) -> None:
    """SPEC 7.6: a response is sent only after its entry is covered by a published signed head,
    so deleting even the last entry (and every checkpoint row) with raw SQL is detected."""
    with TestClient(api_env.app()) as c:
        _traffic(api_env, c)
        size = api_env.audit.size()
        with api_env.engine.begin() as conn:
            if api_env.engine.dialect.name == "sqlite":
                conn.execute(text("DROP TRIGGER audit_event_no_delete"))
                conn.execute(text("DROP TRIGGER audit_checkpoint_no_delete"))
            else:
                conn.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
                conn.execute(text("DROP TRIGGER audit_checkpoint_append_only ON audit_checkpoint"))
            conn.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": size - 1})
            conn.execute(text("DELETE FROM audit_checkpoint"))
        report = api_env.audit.verify()
    assert not report.ok
    assert any(f"published but the catalog holds {size - 1} entries" in f for f in report.failures), report.failures
