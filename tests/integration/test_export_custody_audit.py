"""A custody event of an export and its audit entry (``export.<event>``) commit in ONE catalog
transaction (SPEC 7.6): when either cannot be written, neither is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from archive.audit.query import AuditFilter
from archive.errors import CatalogError
from archive.export import repo
from archive.identity.policy import CameraScope
from tests.integration import export_support as xs


@pytest.fixture
def env(catalog_url: str, s3_store: Any, tmp_path: Path) -> xs.XEnv:
    e = xs.make_env(catalog_url, s3_store, tmp_path)
    xs.record_cameras(e, xs.make_clips(tmp_path / "clips"))
    return e


def _exports_entries(env: xs.XEnv, eid: str) -> list[str]:
    return [e.record.action for e in env.audit.events(AuditFilter(newest_first=False))
            if e.record.target.get("export") == eid]  # fmt: skip


def test_custody_event_and_its_audit_entry_commit_together(env: xs.XEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    eid = xs.request(env)
    svc = env.exports.service
    lines, entries, status = svc.custody.lines(eid), _exports_entries(env, eid), svc.record(eid).status
    assert entries[0] == "export.requested" and len(lines) == len(entries)  # (+ dishub's policy approval)
    head = env.audit.latest()
    assert head is not None and head.size == env.audit.size()  # sealed before request() returned

    # 1. the audit entry cannot be written: the custody event (and the decision) is not stored either
    def refused(*args: Any) -> Any:
        raise CatalogError("audit append refused")

    monkeypatch.setattr(env.audit, "record_in", lambda conn, record: refused())
    monkeypatch.setattr(env.audit, "record", lambda record: refused())
    with pytest.raises(CatalogError):
        svc.decide(env.who("own1"), CameraScope(None), eid, True, "ok for the police", origin="10.0.1.9")
    assert svc.custody.lines(eid) == lines and _exports_entries(env, eid) == entries
    assert svc.record(eid).status == status  # the decision was not stored
    monkeypatch.undo()

    # 2. the custody row cannot be written: no audit entry either
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT INTO export_custody", {}, Exception("disk I/O error"))

    monkeypatch.setattr(repo, "insert_custody", broken)
    size = env.audit.size()
    with pytest.raises(CatalogError):
        svc.decide(env.who("own1"), CameraScope(None), eid, True, "ok for the police", origin="10.0.1.9")
    assert env.audit.size() == size and svc.custody.lines(eid) == lines
    monkeypatch.undo()

    # both writable: stored together, sealed before decide() returned
    svc.decide(env.who("own1"), CameraScope(None), eid, True, "ok for the police", origin="10.0.1.9")
    assert len(svc.custody.lines(eid)) == len(lines) + 1 and _exports_entries(env, eid) == [*entries, "export.approved"]
    head = env.audit.latest()
    assert head is not None and head.size == env.audit.size() and env.audit.verify().ok
