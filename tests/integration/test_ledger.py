"""The ledger on SQLite and PostgreSQL with a real embedded SeaweedFS: schema, appends (one entry
and its row per transaction, idempotent, thread-safe, resumable), checkpoints (published under
COMPLIANCE lock, never two inconsistent ones), key rotation, the Checkpointer thread."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, inspect, select, text, update

from archive.catalog.migrate import downgrade, upgrade
from archive.errors import ConflictError
from archive.integrity import (
    Clock,
    IntegrityError,
    MalformedError,
    MemoryTree,
    SignedNote,
    VerifierKey,
    leaf_hash,
    open_checkpoint,
    verify_checkpoint,
    verify_entries,
)
from archive.ledger import Checkpointer, repo
from archive.ledger.settings import checkpoint_key, entries_key, latest_checkpoint_key
from archive.ledger.tables import (
    GapRow,
    LogCheckpointRow,
    LogCosignatureRow,
    LogEntryRow,
    LogNodeRow,
    LogStateRow,
    SegmentRow,
    SigningKeyRow,
)
from archive.ledger.verify import verify_camera
from archive.ledger.verify_log import verify_log
from archive.storage.base import LockMode
from tests.integration.ledger_support import SEG, T0, Env, make_env, record, store_segment

CAM = "cam-1"


@pytest.fixture
def env(catalog_url: str, s3_store, tmp_path: Path):
    e = make_env(catalog_url, s3_store, tmp_path)
    yield e
    e.engine.dispose()


def _entries(env: Env, camera: str = CAM) -> list[bytes]:
    with env.engine.connect() as conn:
        return [r.data for r in repo.iter_entries(conn, env.ledger.log_id(camera))]


def _log_keys(env: Env, camera: str = CAM) -> list[VerifierKey]:
    return [k.log_key(env.ledger.log_id(camera)) for k in env.ledger.keys.records()]


# -- schema -----------------------------------------------------------------------------------


def test_migrated_schema_matches_table_classes(env: Env) -> None:
    insp = inspect(env.engine)
    for model in (
        SegmentRow,
        GapRow,
        LogEntryRow,
        LogNodeRow,
        LogStateRow,
        LogCheckpointRow,
        LogCosignatureRow,
        SigningKeyRow,
    ):
        table = model.__table__  # type: ignore[attr-defined]
        db_cols = {c["name"] for c in insp.get_columns(table.name)}
        assert db_cols == {c.name for c in table.columns}, table.name
        db_pk = set(insp.get_pk_constraint(table.name)["constrained_columns"])
        assert db_pk == {c.name for c in table.primary_key.columns}, table.name
    idx = {i["name"] for i in insp.get_indexes("segment")}
    assert {"ix_segment_camera_start", "ix_segment_camera_end"} <= idx
    downgrade(env.engine, "0001")
    assert "segment" not in inspect(env.engine).get_table_names()
    upgrade(env.engine)
    assert "log_entry" in inspect(env.engine).get_table_names()


# -- appends ----------------------------------------------------------------------------------


def test_append_segment_gap_prune_clock_one_entry_each(env: Env) -> None:
    seqs = record(env, CAM, 3)
    assert seqs == [0, 1, 2]
    gap = env.ledger.append_gap(CAM, T0 + 3 * SEG, T0 + 4 * SEG, "camera_unreachable", "RTSP timeout")
    clock = env.ledger.append_clock(
        CAM, Clock(at=T0, synced=True, source="chrony", offset_us=-120, max_error_us=2500, stratum=2)
    )
    prune = env.ledger.append_prune(CAM, 0, 2, "owner-a.yaml#rule-1", at=T0 + timedelta(days=30))
    assert (gap.seq, clock.seq, prune.seq) == (3, 4, 5)

    data = _entries(env)
    entries = verify_entries(data, origin=env.ledger.log_id(CAM), start=0)
    assert [e.kind for e in entries] == ["segment", "segment", "segment", "gap", "clock", "prune"]
    with env.engine.connect() as conn:
        segs = conn.execute(select(SegmentRow.__table__).order_by(text("seq"))).mappings().all()  # type: ignore[attr-defined]
        gaps = conn.execute(select(GapRow.__table__)).mappings().all()  # type: ignore[attr-defined]
        state = repo.load_state(conn, env.ledger.log_id(CAM))
    assert [(r["seq"], r["pruned"]) for r in segs] == [(0, True), (1, True), (2, False)]
    assert segs[0]["start_us"] == int(T0.timestamp() * 1_000_000)
    assert segs[0]["sha256"] == entries[0].payload.sha256.hex()  # type: ignore[union-attr]
    assert [(g["seq"], g["reason"], g["detail"]) for g in gaps] == [(3, "camera_unreachable", "RTSP timeout")]
    tree = MemoryTree()
    tree.extend(leaf_hash(d) for d in data)
    assert state is not None and state.size == 6
    assert env.ledger.appender is not None
    with env.engine.connect() as conn:
        assert repo.hash_source(conn, env.ledger.log_id(CAM)).subtree_hash(0, 6) == tree.root()


def test_appends_are_idempotent_and_conflicts_refused(env: Env) -> None:
    facts, _ = store_segment(env, CAM, 0)
    first = env.ledger.append_segment(CAM, facts)
    again = env.ledger.append_segment(CAM, facts)
    assert (first.seq, first.created) == (0, True)
    assert (again.seq, again.created) == (0, False)
    gap1 = env.ledger.append_gap(CAM, T0 + SEG, T0 + 2 * SEG, "recorder_stopped")
    gap2 = env.ledger.append_gap(CAM, T0 + SEG, T0 + 2 * SEG, "recorder_stopped")
    assert (gap1.seq, gap2.seq, gap2.created) == (1, 1, False)
    forged = type(facts)(**{**facts.__dict__, "sha256": "00" * 32})
    with pytest.raises(ConflictError, match="already"):
        env.ledger.append_segment(CAM, forged)
    with pytest.raises(MalformedError, match="gap reason"):
        env.ledger.append_gap(CAM, T0, T0 + SEG, "because")
    assert env.ledger.size(CAM) == 2


def test_failed_transaction_writes_nothing_and_cache_stays_right(env: Env) -> None:
    record(env, CAM, 2)
    facts, _ = store_segment(env, CAM, 2)
    with env.engine.begin() as conn:  # a row that will collide with the next seq
        conn.execute(
            SegmentRow.__table__.insert().values(  # type: ignore[attr-defined]
                camera_id=CAM,
                seq=2,
                bucket="x",
                object_key="k",
                version_id="v",
                sha256="0" * 64,
                size=1,
                start_us=0,
                end_us=1,
                duration_us=1,
                container="c",
                codec="c",
                keyframe_start=True,
                partial=False,
                pruned=False,
                ingested_us=0,
            )
        )
    with pytest.raises(ConflictError, match="already holds the next seq"):  # unique (camera_id, seq) fires
        env.ledger.append_segment(CAM, facts)
    assert env.ledger.size(CAM) == 2
    with env.engine.begin() as conn:
        conn.execute(delete(SegmentRow.__table__).where(text("object_key = 'k'")))  # type: ignore[attr-defined]
    assert env.ledger.append_segment(CAM, facts).seq == 2
    verify_entries(_entries(env), origin=env.ledger.log_id(CAM), start=0)


def test_restart_resumes_from_stored_state(env: Env) -> None:
    record(env, CAM, 5)
    again = env.reopen()
    facts, _ = store_segment(env, CAM, 5)
    assert again.append_segment(CAM, facts).seq == 5
    data = _entries(env)
    verify_entries(data, origin=again.log_id(CAM), start=0)
    tree = MemoryTree()
    tree.extend(leaf_hash(d) for d in data)
    view = again.checkpoint(CAM)
    assert view is not None and view.root == tree.root().hex()


def test_concurrent_appends_from_threads(env: Env) -> None:
    cams = ["cam-a", "cam-b"]
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for i in range(12):
                cam = cams[(w + i) % 2]
                facts, _ = store_segment(env, cam, w * 100 + i, start=T0 + (w * 100 + i) * SEG)
                env.ledger.append_segment(cam, facts)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for cam in cams:
        data = _entries(env, cam)
        assert len(data) == 24
        verify_entries(data, origin=env.ledger.log_id(cam), start=0)
        env.ledger.checkpoint(cam)
        assert verify_log(env.ledger, cam).ok


def test_second_ledger_instance_appending_is_detected_and_absorbed(env: Env) -> None:
    record(env, CAM, 2)
    other = env.reopen()
    facts, _ = store_segment(env, CAM, 2)
    assert other.append_segment(CAM, facts).seq == 2
    facts, _ = store_segment(env, CAM, 3)
    assert env.ledger.append_segment(CAM, facts).seq == 3  # stale cache: compare-and-set reloads
    verify_entries(_entries(env), origin=env.ledger.log_id(CAM), start=0)


# -- checkpoints ------------------------------------------------------------------------------


def test_checkpoint_published_under_compliance_and_consistent(env: Env) -> None:
    record(env, CAM, 4)
    first = env.ledger.checkpoint(CAM)
    assert first is not None and first.size == 4
    cp = open_checkpoint(first.note, _log_keys(env), origin=env.ledger.log_id(CAM))
    assert cp.size == 4
    stored = env.store.get_bytes(env.logs, checkpoint_key(env.ledger.log_id(CAM), 4), first.version_id).decode()
    assert stored == first.note
    assert env.store.get_bytes(env.logs, latest_checkpoint_key(env.ledger.log_id(CAM))).decode() == first.note
    batch = env.store.get_bytes(env.logs, entries_key(env.ledger.log_id(CAM), 0, 4))
    assert batch == b"".join(d + b"\n" for d in _entries(env))
    info = env.store.stat(env.logs, checkpoint_key(env.ledger.log_id(CAM), 4))
    assert info.retention is not None and info.retention.mode is LockMode.COMPLIANCE
    # nothing new: the same checkpoint, no new object version
    assert env.ledger.checkpoint(CAM) == first
    record(env, CAM, 3, first=4)
    second = env.ledger.checkpoint(CAM)
    assert second is not None and second.size == 7
    assert env.store.get_bytes(env.logs, entries_key(env.ledger.log_id(CAM), 4, 7)).count(b"\n") == 3
    report = verify_log(env.ledger, CAM)
    assert report.ok, report.lines()
    assert report.checkpoints_checked == 2
    assert verify_camera(env.ledger, CAM).ok
    assert env.ledger.checkpoint("nobody") is None


def test_refuses_to_sign_after_rollback(env: Env) -> None:
    record(env, CAM, 3)
    origin = env.ledger.log_id(CAM)
    with env.engine.connect() as conn:
        snapshot = dict(conn.execute(select(LogStateRow.__table__)).mappings().one())  # type: ignore[attr-defined]
    record(env, CAM, 3, first=3)
    signed = env.ledger.checkpoint(CAM)
    assert signed is not None and signed.size == 6
    # "restore the catalog from a backup taken at size 3": entries, nodes, rows, state, checkpoints
    with env.engine.begin() as conn:
        conn.execute(delete(LogEntryRow.__table__).where(text("seq >= 3")))  # type: ignore[attr-defined]
        conn.execute(delete(LogNodeRow.__table__))  # type: ignore[attr-defined]
        conn.execute(delete(SegmentRow.__table__).where(text("seq >= 3")))  # type: ignore[attr-defined]
        conn.execute(delete(LogCheckpointRow.__table__))  # type: ignore[attr-defined]
        conn.execute(update(LogStateRow.__table__).values(**snapshot))  # type: ignore[attr-defined]
        tree = MemoryTree()
        for d in [r.data for r in repo.iter_entries(conn, origin)]:
            for n in tree.append(leaf_hash(d)):
                conn.execute(
                    LogNodeRow.__table__.insert().values(  # type: ignore[attr-defined]
                        log_id=origin, level=n.level, idx=n.index, hash=n.hash
                    )
                )
    restarted = env.reopen()
    with pytest.raises(IntegrityError, match="size 6 was signed"):
        restarted.checkpoint(CAM)
    # a different history grows past the signed size: still refused (not consistent)
    for i in range(4):
        restarted.append_gap(CAM, T0 + (3 + i) * SEG, T0 + (4 + i) * SEG, "store_down")
    with pytest.raises(IntegrityError, match="does not extend"):
        restarted.checkpoint(CAM)
    # nothing was published over the signed checkpoint of size 6
    note = env.store.get_bytes(env.logs, latest_checkpoint_key(env.ledger.log_id(CAM))).decode()
    assert open_checkpoint(note, _log_keys(env), origin=origin).size == 6
    assert not verify_log(env.ledger, CAM).ok


def test_crash_between_append_and_sign_then_continue(env: Env, seaweed, tmp_path: Path) -> None:
    """A writer process appends, signs once, appends more and is killed before signing again."""
    import os
    import signal
    import subprocess
    import sys

    record(env, CAM, 2)
    env.ledger.checkpoint(CAM)
    creds = seaweed.credentials
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from pathlib import Path\n"
        "from archive.catalog.db import make_engine\n"
        "from archive.storage.s3 import S3Store\n"
        "from tests.integration.ledger_support import Env, make_ledger, record\n"
        f"store = S3Store({seaweed.endpoint!r}, {creds.access_key!r}, {creds.secret_key!r}, secure=False)\n"
        f"engine = make_engine({env.url!r})\n"
        # the writer claim of this test's ledger: the killed writer and its restart are one recorder
        f"ledger = make_ledger(engine, store, Path({str(env.key_file)!r}), {env.media!r}, {env.logs!r}, {env.tag!r}, "
        f"holder={env.ledger.claims.holder!r})\n"
        f"env = Env(ledger, engine, store, {env.media!r}, {env.logs!r}, {env.url!r}, Path({str(env.key_file)!r}), "
        f"{env.tag!r})\n"
        f"record(env, {CAM!r}, 3, first=2)\n"
        f"ledger.checkpoint({CAM!r})\n"
        f"record(env, {CAM!r}, 2, first=5)\n"
        "print('appended', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "appended"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert env.ledger.size(CAM) == 7
    restarted = env.reopen()
    record(replace(env, ledger=restarted), CAM, 2, first=7)
    view = restarted.checkpoint(CAM)
    assert view is not None and view.size == 9
    report = verify_log(restarted, CAM)
    assert report.ok, report.lines()
    assert report.checkpoints_checked == 3
    assert verify_camera(restarted, CAM).ok


# -- keys -------------------------------------------------------------------------------------


def test_key_rotation_appends_key_entries_and_dual_signs(env: Env) -> None:
    record(env, CAM, 2)
    record(env, "cam-2", 1)
    env.ledger.checkpoint(CAM)
    first_key = env.ledger.keys.active()
    old, new = env.ledger.rotate_keys()
    assert old.key_id == first_key.key_id and new.active and old.key_id != new.key_id
    recs = {k.key_id: k for k in env.ledger.keys.records()}
    assert recs[old.key_id].retired_us is not None and not recs[old.key_id].active
    origin = env.ledger.log_id(CAM)
    entries = verify_entries(_entries(env), origin=origin, start=0)
    assert entries[-1].kind == "key"
    view = env.ledger.signer.latest(CAM)
    assert view is not None and view.size == 3
    _, signers = verify_checkpoint(view.note, _log_keys(env), origin=origin)
    assert {k.key_id for k in signers} == {old.log_key(origin).key_id, new.log_key(origin).key_id}
    record(env, CAM, 1, first=2)
    later = env.ledger.checkpoint(CAM)
    assert later is not None
    assert [s.name for s in SignedNote.parse(later.note).signatures] == [origin]
    _, signers = verify_checkpoint(later.note, _log_keys(env), origin=origin)
    assert [k.key_id for k in signers] == [new.log_key(origin).key_id]
    for cam in (CAM, "cam-2"):
        assert verify_log(env.ledger, cam).ok
        assert verify_camera(env.ledger, cam).ok
    # trusting only the first key, published out of band, the rotation chain proves the new one
    assert verify_camera(env.ledger, CAM, trusted=[old.public]).ok


def test_private_keys_are_stored_encrypted(env: Env) -> None:
    key = env.ledger.keys.active()
    with env.engine.connect() as conn:
        row = conn.execute(select(SigningKeyRow.__table__)).mappings().one()  # type: ignore[attr-defined]
    assert row["private_enc"].startswith("v1:") and "PRIVATE" not in row["private_enc"]
    assert row["verifier_key"] == key.verifier_key
    signer = env.ledger.keys.signer(key.key_id)
    stored = json.dumps(dict(row))
    assert signer.encode() not in stored and signer.encode().split("+", 4)[4] not in stored
    assert signer.seed().hex() not in stored


# -- checkpointer -----------------------------------------------------------------------------


def test_checkpointer_signs_periodically_and_at_stop(env: Env) -> None:
    cp = Checkpointer(env.engine, env.ledger.signer, interval_s=1)
    cp.start()
    try:
        record(env, CAM, 2)
        deadline = time.monotonic() + 15
        while env.ledger.signer.latest(CAM) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert env.ledger.signer.latest(CAM) is not None
        record(env, CAM, 1, first=2)
        record(env, "cam-2", 1)
    finally:
        final = cp.stop()
    assert not final.failed
    latest = env.ledger.signer.latest(CAM)
    assert latest is not None and latest.size == 3
    assert env.ledger.signer.latest("cam-2") is not None
    with env.engine.connect() as conn:
        assert repo.pending_logs(conn) == []
        assert conn.execute(select(func.count()).select_from(LogCheckpointRow.__table__)).scalar() >= 3  # type: ignore[attr-defined]


def test_segment_facts_hash_is_checked() -> None:
    from archive.ledger import SegmentFacts
    from tests.integration.ledger_support import MEDIA

    with pytest.raises(MalformedError):
        SegmentFacts("k", "v", "XYZ", 1, T0, T0 + SEG, 1, MEDIA)
    with pytest.raises(MalformedError):
        SegmentFacts("k", "v", hashlib.sha256(b"").hexdigest(), 1, T0 + SEG, T0, 1, MEDIA)


def test_pruned_media_is_not_expected_but_history_stays(env: Env) -> None:
    record(env, CAM, 4)
    with env.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, object_key, version_id FROM segment ORDER BY seq")).all()
    for _seq, key, version in rows[:2]:  # what retention does: delete the media versions ...
        env.store.delete_version(env.media, key, version, bypass_governance=True)
    env.ledger.append_prune(CAM, 0, 2, "owner-a.yaml#30-days")  # ... then log it
    env.ledger.checkpoint(CAM)
    report = verify_camera(env.ledger, CAM)
    assert report.ok, report.lines()
    assert report.segments_checked == 2 and report.entries_checked == 5
    # a row flagged pruned without a prune entry is reported
    with env.engine.begin() as conn:
        conn.execute(text("UPDATE segment SET pruned = :t WHERE seq = 3"), {"t": True})
    bad = verify_camera(env.ledger, CAM)
    assert any(f.seq == 3 and "marked pruned but no prune entry" in f.what for f in bad.failures), bad.lines()
