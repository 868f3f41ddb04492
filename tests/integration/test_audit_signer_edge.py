"""The audit signer's kept edge (archive/audit/signer.py): after a signer proved or signed a head,
the next seal from that head rebuilds the new root from the authenticated edge and the new
entries, without reading tree nodes; a catalog tree that does not extend the signed head is still
refused; a fresh signer (another process) runs the stored-node proofs. Real SQLite and SeaweedFS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text, update

from archive.audit import signer as signer_module
from archive.audit.entry import AuditRecord
from archive.audit.service import AuditTrail
from archive.audit.tables import NODE
from archive.integrity import IntegrityError
from archive.storage.s3 import S3Store
from tests.integration import export_support as xs


@pytest.fixture
def env(s3_store: S3Store, tmp_path: Path) -> Iterator[xs.XEnv]:
    e = xs.make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path, working_copy=False)
    yield e
    e.engine.dispose()  # type: ignore[attr-defined]


def _rec(i: int) -> AuditRecord:
    return AuditRecord(at_us=time.time_ns() // 1000, ip="10.0.0.7", action="cameras.list", method="GET",
                       path="/api/v1/cameras", status=200, actor="inv1", detail={"i": i})  # fmt: skip


def _again(env: xs.XEnv) -> AuditTrail:
    """The same audit log as another process sees it: a new trail with a new signer."""
    return AuditTrail(env.engine, env.ledger.audit_keys, env.store, origin_prefix=env.ledger.settings.origin_prefix,
                      log_bucket=env.ledger.settings.log_bucket)  # fmt: skip


def test_a_signer_extends_its_own_head_without_reading_tree_nodes(env: xs.XEnv,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    trail = env.audit
    for i in range(5):
        trail.record(_rec(i))  # each record seals: the signer now keeps the edge of its head
    calls: list[int] = []
    real = signer_module.tree_source

    def counting(conn):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(conn)

    monkeypatch.setattr(signer_module, "tree_source", counting)
    for i in range(5, 12):
        trail.record(_rec(i))
    assert calls == [], "a seal from this signer's own head read the stored tree nodes"
    head = trail.latest()
    assert head is not None and head.size == trail.log.size() == 12
    other = _again(env)
    other.record(_rec(99))  # another process's signer has not proved this head: it runs the proofs
    assert calls, "a fresh signer skipped the consistency and range proofs"
    assert trail.verify().ok and other.verify().ok


def test_a_tree_that_does_not_extend_the_kept_head_is_refused(env: xs.XEnv) -> None:
    trail = env.audit
    for i in range(4):
        trail.record(_rec(i))
    trail.log.append(_rec(10))  # committed, not sealed
    trail.log.append(_rec(11))
    with env.engine.begin() as conn:  # an insider with catalog write access rewrites the tree nodes
        conn.execute(text("DROP TRIGGER audit_node_no_update"))  # (SQLite: the append-only trigger goes first)
        conn.execute(update(NODE).where(NODE.c.level == 1).values(hash=b"\x00" * 32))
    with pytest.raises(IntegrityError, match="do not rebuild its root; refusing to sign"):
        trail.seal()  # the kept edge plus the new entries do not give the stored root
    with pytest.raises(IntegrityError, match="refusing to sign"):
        _again(env).seal()  # and the proofs of a fresh signer refuse it too
