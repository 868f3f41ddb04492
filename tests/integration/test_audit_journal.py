"""SPEC 7.6 erase bounds with the local audit journal (archive.audit.journal): an answered entry
is fsynced to the journal before the answer and covered by a signed head within the checkpoint
interval. Each bound is attacked: catalog write access alone, host file access alone, both."""

from __future__ import annotations

import dataclasses
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import func, select, text

from archive.audit.entry import AuditRecord
from archive.audit.service import AuditTrail
from archive.audit.tables import CHECKPOINT
from tests.integration.api_support import ApiEnv, api_env_fixture  # noqa: F401

P = "/api/v1"


def _trail(env: ApiEnv, path: Path) -> AuditTrail:
    return AuditTrail(env.engine, env.ledger.audit_keys, env.store, origin_prefix=env.audit.origin[: -len("/audit")],
                      log_bucket=env.logs, retention=timedelta(days=1), journal=path)  # fmt: skip


def _record(i: int) -> AuditRecord:
    return AuditRecord(at_us=1_700_000_000_000_000 + i, ip="local", action="test.journal", method="CLI", path="/t",
                       status=200, actor="t", agency=None, owner=None, role="admin", token=None,
                       target={"i": str(i)}, detail={})  # fmt: skip


def _heads(env: ApiEnv) -> int:
    with env.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CHECKPOINT)).scalar_one())


def _delete_from(env: ApiEnv, seq: int) -> None:
    """The catalog attacker: drop the append-only triggers, delete entries >= seq and every checkpoint row."""
    with env.engine.begin() as conn:
        if env.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_checkpoint_no_delete"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_node_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_checkpoint"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_node_append_only ON audit_node"))
        conn.execute(text("DELETE FROM audit_event WHERE seq >= :s"), {"s": seq})
        conn.execute(text("DELETE FROM audit_checkpoint"))


def test_requests_publish_no_head_and_the_journal_holds_every_answered_entry(api_env: ApiEnv, tmp_path: Path) -> None:
    """Per request: 0 log-bucket objects (was 3), the request's entry is in the journal (0600) before the answer."""
    path = tmp_path / "state" / "audit.journal"
    trail = _trail(api_env, path)
    deps = dataclasses.replace(api_env.deps, audit=trail)
    from archive.api.app import create_app

    with TestClient(create_app(deps)) as c:
        heads = _heads(api_env)
        for _ in range(5):
            r = c.get(f"{P}/cameras", headers=api_env.auth("investigator"))
            assert r.status_code == 200, r.text
            lines = trail.journal.read() if trail.journal else []
            assert lines and lines[-1][0] == trail.size() - 1  # the request's own entry, before the answer
        assert _heads(api_env) == heads  # no signed head per request
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert trail.verify().ok, trail.verify().failures
    trail.checkpoint()  # the checkpointer's round: one head covers them all
    assert _heads(api_env) == heads + 1


def test_catalog_attacker_deleting_the_last_entries_is_detected_by_the_journal(api_env: ApiEnv,
                                                                               tmp_path: Path) -> None:  # fmt: skip
    """Catalog write access only: the entries after the last signed head (not yet covered by any
    head) are deleted with every checkpoint row; the journal names them: detected."""
    trail = _trail(api_env, tmp_path / "audit.journal")
    for i in range(3):
        trail.record(_record(i))
    trail.checkpoint()
    for i in range(3, 6):
        trail.record(_record(i))  # journaled, not yet signed
    size = trail.size()
    _delete_from(api_env, size - 2)
    report = trail.verify()
    assert not report.ok
    want = f"the audit journal records entry seq {size - 1} but the catalog holds {size - 2} entries"
    assert any(want in f for f in report.failures), report.failures


def test_host_file_attacker_alone_erases_nothing(api_env: ApiEnv, tmp_path: Path) -> None:
    """Host file access only (journal truncated or deleted): every entry stays in the catalog and
    the next signed head covers it; the verifier still passes (nothing was erased)."""
    path = tmp_path / "audit.journal"
    trail = _trail(api_env, path)
    for i in range(4):
        trail.record(_record(i))
    path.unlink()
    assert trail.verify().ok
    head = trail.checkpoint()
    assert head is not None and head.size == trail.size() == 4


def test_both_erase_at_most_the_entries_after_the_last_published_head(api_env: ApiEnv, tmp_path: Path) -> None:
    """Catalog and host file access: the entries after the last published head can be erased
    undetected (the stated bound: one checkpoint interval); one entry more (covered) is detected."""
    path = tmp_path / "audit.journal"
    trail = _trail(api_env, path)
    for i in range(3):
        trail.record(_record(i))
    head = trail.checkpoint()
    assert head is not None and head.size == 3
    for i in range(3, 6):
        trail.record(_record(i))
    path.write_bytes(b"".join(b"%d %s\n" % (s, h.hex().encode()) for s, h in (trail.journal.read() if trail.journal
                                                                                else [])[:3]))  # fmt: skip
    _delete_from(api_env, 3)
    assert trail.verify().ok  # the bound: uncovered entries 3..5 are gone without a trace
    _delete_from(api_env, 2)
    path.write_bytes(b"")
    report = trail.verify()
    assert not report.ok and any("published but the catalog holds 2 entries" in f for f in report.failures)


def test_an_unwritable_journal_fails_the_seal(api_env: ApiEnv, tmp_path: Path) -> None:
    """The journal is the coverage: when it cannot be written, record() raises (the API answers 503)."""
    import pytest

    from archive.errors import StorageError

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    trail = _trail(api_env, blocker / "audit.journal")
    with pytest.raises(StorageError, match="audit journal"):
        trail.record(_record(0))


def test_the_api_answers_503_when_the_journal_cannot_be_written(api_env: ApiEnv, tmp_path: Path) -> None:
    """Fail closed: no answer that is not in the journal (the gate replaces it with a 503)."""
    from archive.api.app import create_app

    blocker = tmp_path / "blocked"
    blocker.write_text("x")
    deps = dataclasses.replace(api_env.deps, audit=_trail(api_env, blocker / "audit.journal"))
    with TestClient(create_app(deps)) as c:
        r = c.get(f"{P}/cameras", headers=api_env.auth("investigator"))
    assert r.status_code == 503, r.text


def test_compaction_keeps_the_uncovered_lines_and_a_torn_line_is_cut(api_env: ApiEnv, tmp_path: Path) -> None:
    """The journal stays bounded: lines a published head covers are dropped, the rest kept; the
    bounds above still hold afterwards. A torn last line (crash mid-write) does not break it."""
    path = tmp_path / "audit.journal"
    trail = _trail(api_env, path)
    assert trail.journal is not None
    for i in range(4):
        trail.record(_record(i))
    head = trail.checkpoint()
    assert head is not None and head.size == 4
    trail.record(_record(4))
    assert trail.journal.compact(head.size, trail._hashes)
    assert [s for s, _ in trail.journal.read()] == [4]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with path.open("ab") as f:
        f.write(b"5 abc")  # torn
    trail.record(_record(5))
    assert [s for s, _ in trail.journal.read()] == [4, 5]
    assert trail.verify().ok, trail.verify().failures
    _delete_from(api_env, 5)
    report = trail.verify()
    assert not report.ok and any("journal records entry seq 5" in f for f in report.failures), report.failures


def test_the_checkpointer_signs_only_new_entries_and_compacts_a_large_journal(api_env: ApiEnv, tmp_path: Path,
                                                                              monkeypatch: Any) -> None:  # fmt: skip
    import archive.audit.signer as signer_mod

    monkeypatch.setattr(signer_mod, "COMPACT_BYTES", 100)
    trail = _trail(api_env, tmp_path / "audit.journal")
    assert trail.journal is not None
    for i in range(5):
        trail.record(_record(i))
    cp = trail.checkpointer(0.05)
    heads = _heads(api_env)
    head = cp.run_once()
    assert head is not None and head.size == 5 and _heads(api_env) == heads + 1
    assert [s for s, _ in trail.journal.read()] == [4]  # compacted: the head covers 0..4
    assert cp.run_once() is None and _heads(api_env) == heads + 1  # nothing new: nothing signed
    trail.record(_record(5))
    assert cp.run_once() is not None and _heads(api_env) == heads + 2
    assert trail.verify().ok, trail.verify().failures


def test_compaction_never_drops_the_evidence_of_a_deletion(api_env: ApiEnv, tmp_path: Path) -> None:
    """The catalog attacker deletes entries, the service appends new ones over their seqs and the
    checkpointer signs the new tree: the journal lines of the deleted entries (other hashes) are
    the only evidence left, so compaction refuses to drop them and the verifier reports them."""
    import pytest

    from archive.integrity import IntegrityError

    trail = _trail(api_env, tmp_path / "audit.journal")
    assert trail.journal is not None
    for i in range(6):
        trail.record(_record(i))
    _delete_from(api_env, 4)
    with api_env.engine.begin() as conn:
        # the attacker keeps the tree consistent: drops the nodes over the deleted leaves
        conn.execute(text("DELETE FROM audit_node WHERE (level = 1 AND idx >= 2) OR (level = 2 AND idx >= 1) "
                          "OR level >= 3"))
    fresh = _trail(api_env, tmp_path / "audit.journal")
    assert fresh.journal is not None
    for i in range(3):
        fresh.record(_record(100 + i))  # seqs 4, 5, 6: 4 and 5 now have other hashes
    head = fresh.checkpoint()
    assert head is not None and head.size == 7
    with pytest.raises(IntegrityError, match="differ from the catalog"):
        fresh.journal.compact(head.size, fresh._hashes)
    report = fresh.verify()
    assert not report.ok and any("journal's hash differs" in f for f in report.failures), report.failures
