"""Retention end to end on the real embedded store and both catalogs (SQLite, PostgreSQL).

The clock is controlled (segments are written with start times days ago; no sleeping for days):
objects get the lock the upload callback computes (start + keep, at least 2 s from now in tests),
so the executor deletes them without bypassing anything once that lock has lapsed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from archive.errors import ConflictError, ForbiddenError, ObjectLockedError, StorageUnavailableError
from archive.identity.model import Role
from archive.ledger.tables import LogEntryRow
from archive.ledger.verify_log import verify_log
from archive.retention.audit import HoldActor
from archive.retention.lock import JobLock
from archive.retention.service import LOCK_NAME
from archive.retention.tables import AUDIT
from archive.storage.base import LockMode, Retention
from tests.integration.retention_support import DAY, SEG, SIZE, REnv, make_renv, starts, wait_until

ADMIN = HoldActor("ani", Role.ADMIN)
INVESTIGATOR = HoldActor("budi", Role.INVESTIGATOR)
LEGAL = HoldActor("citra", Role.LEGAL)


@pytest.fixture
def renv(catalog_url: str, s3_store, retention_store, tmp_path: Path):
    """Retention runs with the service's ``archive-retention`` identity (no governance bypass)."""
    env = make_renv(catalog_url, retention_store, tmp_path, admin=s3_store)
    yield env
    env.engine.dispose()


def prunes(env: REnv, camera: str) -> list[dict]:
    t = LogEntryRow.__table__  # type: ignore[attr-defined]
    with env.engine.connect() as conn:
        rows = conn.execute(select(t.c.data).where(t.c.log_id == env.ledger.log_id(camera), t.c.kind == "prune")
                            .order_by(t.c.seq)).all()
    return [json.loads(r[0]) for r in rows]


def test_run_deletes_expired_footage_logs_prunes_and_keeps_the_log_verifiable(renv: REnv) -> None:
    lobby, atcs = renv.cam("lobby"), renv.cam("atcs")
    now = renv.clock()
    up = renv.upload_lock()
    old = renv.record(lobby, starts(now - 20 * DAY, 5), up)  # sunrise-mall keeps 14 days
    new = renv.record(lobby, starts(now - 1 * DAY, 3), up)
    a_old = renv.record(atcs, starts(now - 40 * DAY, 3), up)  # dishub keeps 30 days
    a_new = renv.record(atcs, starts(now - 10 * DAY, 2), up)
    wait_until(renv.clock() + timedelta(seconds=2))  # the 2 s minimum lock of the last upload lapses
    svc = renv.service()

    preview = svc.preview()
    assert preview.plan.count == 8 and preview.plan.bytes == 8 * SIZE
    assert {c.camera_id: c.count for c in preview.plan.cameras}[lobby] == 5

    report = svc.run()
    assert report.status == "ok", (report.execution, report.holds, report.extension.failed)  # what failed
    assert report.execution.deleted == 8 and report.execution.failed == 0
    assert renv.versions(lobby) == {v for _, _, v in new}
    assert renv.versions(atcs) == {v for _, _, v in a_new}
    assert renv.pruned(lobby) == {s: s in {x[0] for x in old} for s, _, _ in old + new}
    entries = prunes(renv, lobby)
    assert [(e["from_seq"], e["to_seq"]) for e in entries] == [(0, 4), (4, 5)]  # batch_size 4 in tests
    assert all(e["rule"] == "sunrise-mall.toml#keep_days:14d" for e in entries)
    assert prunes(renv, atcs)[0]["rule"] == "dishub.toml#keep_days:30d"
    # the first run recorded the policies it applied: dishub is longer than the 14-day storage default
    kinds = {c.camera_id: c.kind.value for c in report.preview.changes}
    assert kinds == {lobby: "initial", atcs: "lengthened", renv.cam("kantor"): "lengthened"}
    info = renv.store.stat(renv.media, a_new[0][1], a_new[0][2])
    assert info.retention is not None and abs(info.retention.until - (now - 10 * DAY + 30 * DAY)) < timedelta(seconds=1)

    # the catalog follows the store; the evidence log still verifies with the prune entries in it
    for cam in (lobby, atcs):
        renv.ledger.checkpoint(cam)
        assert verify_log(renv.ledger, cam).ok
    again = svc.run()
    assert again.execution.deleted == 0 and again.preview.plan.count == 0 and again.preview.changes == ()
    assert svc.audit.verify() == []
    assert {e.action for e in svc.audit.events()} >= {"policy.initial", "policy.lengthened", "retention.delete",
                                                       "retention.run"}
    assert a_old  # deleted above


def test_legal_hold_blocks_deletion_in_catalog_and_store(renv: REnv) -> None:
    lobby = renv.cam("lobby")
    now = renv.clock()
    first = now - 20 * DAY
    segs = renv.record(lobby, starts(first, 10), renv.upload_lock())
    wait_until(renv.clock() + timedelta(seconds=2))
    svc = renv.service(batch_size=100)
    with pytest.raises(ForbiddenError):
        svc.holds.create(HoldActor("mall-staff", Role.OWNER), case_id="X", reason="r", cameras=[lobby],
                         start_us=0, end_us=1)
    held_range = (first + 3 * SEG, first + 6 * SEG)  # seqs 3, 4, 5
    from archive.model import us_from_utc
    hold, rep = svc.holds.create(INVESTIGATOR, case_id="LP/123/VI/2025", reason="theft at the lobby",
                                 cameras=[lobby], start_us=us_from_utc(held_range[0]),
                                 end_us=us_from_utc(held_range[1]))
    assert rep is not None and rep.ok and rep.held_on == 3
    for seq, key, vid in segs:
        assert renv.store.stat(renv.media, key, vid).legal_hold is (seq in (3, 4, 5))
    with pytest.raises(ObjectLockedError):  # not even storage credentials with bypass delete it
        renv.store.delete_version(renv.media, segs[3][1], segs[3][2], bypass_governance=True)

    report = svc.run()
    held = {c.camera_id: c.held_count for c in report.preview.plan.cameras}
    assert report.execution.deleted == 7 and held[lobby] == 3
    assert [(e["from_seq"], e["to_seq"]) for e in prunes(renv, lobby)] == [(0, 3), (6, 10)]
    assert renv.versions(lobby) == {segs[i][2] for i in (3, 4, 5)}

    with pytest.raises(ForbiddenError):
        svc.holds.release(INVESTIGATOR, hold.id, "case closed")
    released, rep = svc.holds.release(LEGAL, hold.id, "case closed by the prosecutor")
    assert released.released_by == "citra" and rep is not None and rep.held_off == 3
    assert not renv.store.stat(renv.media, segs[3][1], segs[3][2]).legal_hold
    with pytest.raises(ConflictError):
        svc.holds.release(LEGAL, hold.id, "again")
    report = svc.run()
    assert report.execution.deleted == 3 and renv.versions(lobby) == set()
    actions = [e.action for e in svc.audit.events("hold.")]
    assert actions == ["hold.create", "hold.release"]
    assert svc.audit.events("hold.create")[0].actor == "budi"


def test_overlapping_holds_release_s3_hold_only_when_no_other_covers(renv: REnv) -> None:
    lobby = renv.cam("lobby")
    now = renv.clock()
    first = now - 2 * DAY
    segs = renv.record(lobby, starts(first, 6), renv.upload_lock())
    svc = renv.service()
    from archive.model import us_from_utc
    a, _ = svc.holds.create(ADMIN, case_id="A", reason="a", cameras=[lobby], start_us=us_from_utc(first),
                            end_us=us_from_utc(first + 4 * SEG))
    b, _ = svc.holds.create(ADMIN, case_id="B", reason="b", cameras=[lobby], start_us=us_from_utc(first + 2 * SEG),
                            end_us=us_from_utc(first + 6 * SEG), expires_us=us_from_utc(now + DAY))
    svc.holds.release(ADMIN, a.id, "done")
    assert [renv.store.stat(renv.media, k, v).legal_hold for _, k, v in segs] == [False, False, True, True, True, True]
    renv.clock.offset = 2 * DAY  # hold B expires by itself
    rep = svc.sync_holds()
    assert rep.expired == (b.id,) and rep.held_off == 4
    assert svc.holds.list_holds() == [] and len(svc.holds.list_holds(include_inactive=True)) == 2
    assert svc.audit.events("hold.expire")[0].actor == "system"
    assert svc.audit.events("hold.expire")[0].role == "system"  # the archive itself: no user role
    assert [h.released_role for h in svc.holds.list_holds(include_inactive=True)] == ["admin", "system"]


def test_failed_delete_is_reported_never_marked_and_retried(renv: REnv) -> None:
    lobby = renv.cam("lobby")
    now = renv.clock()
    segs = renv.record(lobby, starts(now - 20 * DAY, 6), renv.upload_lock())
    wait_until(renv.clock() + timedelta(seconds=2))
    renv.store.set_legal_hold(renv.media, segs[2][1], segs[2][2], True)  # someone else's hold, outside the catalog
    svc = renv.service(batch_size=100)
    report = svc.run()
    assert report.status == "partial" and report.execution.deleted == 5 and report.execution.failed == 1
    fail = report.execution.failures[0]
    assert (fail.seq, fail.kind) == (2, "locked") and "legal hold" in fail.message
    assert renv.pruned(lobby)[2] is False
    assert [(e["from_seq"], e["to_seq"]) for e in prunes(renv, lobby)] == [(0, 2), (3, 6)]
    assert svc.audit.events("retention.delete_failed")
    renv.store.set_legal_hold(renv.media, segs[2][1], segs[2][2], False)
    report = svc.run()
    assert report.status == "ok" and report.execution.deleted == 1 and renv.versions(lobby) == set()


def test_expired_footage_under_a_longer_lock_is_not_bypassed(renv: REnv) -> None:
    """Normal expiry never bypasses GOVERNANCE: the lock set at upload is the second safety net."""
    lobby = renv.cam("lobby")
    now = renv.clock()
    first = now - 20 * DAY
    renv.record(lobby, starts(first, 2), Retention(LockMode.GOVERNANCE, now + DAY))
    report = renv.service().run()
    assert report.execution.deleted == 0 and report.execution.failed == 2
    assert {f.kind for f in report.execution.failures} == {"locked"}


class _DownStore:
    """The real store, except deletes fail as if it were unreachable."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def delete_version(self, *a, **kw) -> None:
        raise StorageUnavailableError("store at 127.0.0.1:1 unreachable")


def test_unreachable_store_stops_the_run_and_marks_nothing(renv: REnv) -> None:
    lobby = renv.cam("lobby")
    now = renv.clock()
    renv.record(lobby, starts(now - 20 * DAY, 6), renv.upload_lock())
    renv.store = _DownStore(renv.store)  # type: ignore[assignment]
    report = renv.service().run()
    assert report.execution.aborted and "unavailable" in report.execution.aborted
    assert report.status == "failed" and report.execution.deleted == 0
    assert not any(renv.pruned(lobby).values()) and prunes(renv, lobby) == []


def test_only_one_executor_at_a_time(renv: REnv) -> None:
    svc = renv.service()
    other = JobLock(renv.engine, LOCK_NAME, 60, now_us=svc.now_us, holder="other-host:1")
    assert other.acquire()
    with pytest.raises(ConflictError, match="other-host:1"):
        svc.run()
    # the other process died: its lease expires, then this one may run
    renv.clock.offset = timedelta(seconds=61)
    assert svc.run().status == "ok"
    assert not other.renew() and other.lost.is_set()


def test_lock_acquire_is_exclusive_under_contention(renv: REnv) -> None:
    from concurrent.futures import ThreadPoolExecutor

    locks = [JobLock(renv.engine, "contended", 60, holder=f"h{i}") for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda lk: lk.acquire(), locks))
    assert sum(got) == 1
    winner = locks[got.index(True)]
    assert winner.current_holder()[0] == winner.holder
    winner.release()
    assert locks[0].acquire()


def test_lengthening_extends_the_locks_of_stored_footage(renv: REnv) -> None:
    lobby = renv.cam("lobby")
    now = renv.clock()
    first = now - 1 * DAY
    segs = renv.record(lobby, starts(first, 3), renv.upload_lock())
    svc = renv.service()
    first_run = svc.run()
    assert [c.kind.value for c in first_run.preview.changes if c.camera_id == lobby] == ["initial"]
    f = renv.policies / "sunrise-mall.toml"
    f.write_text(f.read_text().replace("keep_days = 14", "keep_days = 21"))
    report = svc.run()
    assert [c.kind.value for c in report.preview.changes if c.camera_id == lobby] == ["lengthened"]
    assert report.extension.extended == 3 and lobby in report.extension.done
    for i, (_, key, vid) in enumerate(segs):
        info = renv.store.stat(renv.media, key, vid)
        assert info.retention is not None
        assert abs(info.retention.until - (first + i * SEG + 21 * DAY)) < timedelta(seconds=1)
    assert svc.audit.events("policy.lengthened")


def test_shortening_applies_forward_until_an_admin_confirms(renv: REnv) -> None:
    """A confirmed shortening selects footage early; the retention identity cannot bypass the
    GOVERNANCE lock set at upload (issue 14 item 12), so it is deleted once that lock ends."""
    lobby = renv.cam("lobby")
    now = renv.clock()
    first = now - 20 * DAY
    # footage uploaded under the old 30-day storage default; its lock here ends in a few seconds
    # (standing in for the 10 days left of a real one)
    lock_end = now + timedelta(seconds=8)
    segs = renv.record(lobby, starts(first, 4), Retention(LockMode.GOVERNANCE, lock_end))
    svc = renv.service(default_keep_days=30)
    report = svc.run()
    assert report.execution.deleted == 0 and report.preview.plan.count == 0
    assert [c.kind.value for c in report.preview.changes if c.camera_id == lobby] == ["shortened_forward"]
    assert lobby in report.preview.pending_shortenings and any("--confirm" in a for a in report.alarms)
    with pytest.raises(ForbiddenError):
        svc.run(actor=INVESTIGATOR, confirm=True)
    report = svc.run(actor=ADMIN, confirm=True)
    assert all(s.early for c in report.preview.plan.cameras for s in c.selections)  # selected early
    assert report.execution.deleted == 0  # ... but the bypass is refused: early deletion waits for the lock
    assert {f.kind for f in report.execution.failures} == {"locked"}, report.execution.failures
    assert renv.versions(lobby) == {v for _, _, v in segs}
    wait_until(lock_end)
    report = svc.run()
    assert report.execution.deleted == 4, report.execution.failures
    assert renv.versions(lobby) == set() and len(segs) == 4
    confirmed = svc.audit.events("policy.shortening_confirmed")
    assert confirmed and confirmed[0].actor == "ani" and confirmed[0].role == "admin"


def test_storage_pressure_alarm_first_then_oldest_unheld_within_the_owners_rules(renv: REnv) -> None:
    atcs, kantor = renv.cam("atcs"), renv.cam("kantor")  # dishub: min 14 days; satpolpp: never early
    now = renv.clock()
    lock = Retention(LockMode.GOVERNANCE, now + 30 * DAY)  # far from expired: only pressure deletes
    a_old = renv.record(atcs, starts(now - 25 * DAY, 6), lock)
    a_new = renv.record(atcs, starts(now - 5 * DAY, 2), lock)
    k_old = renv.record(kantor, starts(now - 25 * DAY, 4), lock)
    svc = renv.service()
    from archive.model import us_from_utc
    svc.holds.create(ADMIN, case_id="K1", reason="r", cameras=[atcs], start_us=us_from_utc(now - 25 * DAY),
                     end_us=us_from_utc(now - 25 * DAY + SEG))  # the oldest dishub segment is held
    renv.usage.capacity = 100 * SIZE
    renv.usage.used = 85 * SIZE  # alarm (80 %), below delete_at (92 %)
    report = svc.run()
    assert report.execution.deleted == 0 and any("alarm" in a for a in report.alarms)
    assert svc.audit.events("storage.alarm")
    assert {(e.actor, e.role) for e in svc.audit.events("storage.alarm")} == {("retention-scheduler", "system")}
    renv.usage.used = 91 * SIZE + SIZE // 2
    assert svc.run().execution.deleted == 0  # still below delete_at
    renv.usage.used = 94 * SIZE  # need 94 - 88 = 6 segments
    report = svc.run()
    pr = report.preview.plan.pressure
    assert pr is not None and pr.level.value == "delete" and pr.need_bytes == 6 * SIZE
    assert pr.shortfall_bytes == SIZE and pr.blocked  # satpolpp and newer footage are off limits
    # selected: every unheld dishub segment older than 14 days, oldest first ...
    assert sum(x.count for c in report.preview.plan.cameras for x in c.selections if x.pressure) == 5
    # ... but the retention identity cannot bypass the GOVERNANCE lock (issue 14 item 12): under
    # pressure, footage whose lock has not ended stays (the run reports each as locked)
    assert report.execution.deleted == 0 and {f.kind for f in report.execution.failures} == {"locked"}
    assert report.execution.failed == 5
    assert renv.versions(atcs) == {v for _, _, v in a_old + a_new}
    assert renv.versions(kantor) == {v for _, _, v in k_old}
    assert prunes(renv, atcs) == []


def test_compliance_mode_never_deletes_early(renv: REnv) -> None:
    atcs = renv.cam("atcs")
    now = renv.clock()
    renv.record(atcs, starts(now - 25 * DAY, 2), Retention(LockMode.GOVERNANCE, now + 30 * DAY))
    svc = renv.service(lock_mode=LockMode.COMPLIANCE)
    renv.usage.capacity, renv.usage.used = 100, 99
    report = svc.run()
    pr = report.preview.plan.pressure
    assert report.execution.deleted == 0 and pr is not None and pr.blocked and "COMPLIANCE" in pr.blocked


def test_unregistered_cameras_are_never_deleted(renv: REnv) -> None:
    ghost = renv.cam("ghost")
    now = renv.clock()
    renv.record(ghost, starts(now - 400 * DAY, 2), renv.upload_lock())
    wait_until(renv.clock() + timedelta(seconds=2))
    preview = renv.service().preview()
    assert ghost in preview.unmanaged and preview.plan.count == 0


def test_audit_chain_detects_tampering(renv: REnv) -> None:
    svc = renv.service()
    svc.run()
    svc.holds.create(ADMIN, case_id="T", reason="r", cameras=[renv.cam("lobby")], start_us=0, end_us=10)
    assert svc.audit.verify() == []
    with renv.engine.begin() as conn:
        conn.execute(update(AUDIT).where(AUDIT.c.action == "hold.create").values(subject="hold 1 case OTHER"))
    assert any("does not match its hash" in p for p in svc.audit.verify())


def test_planner_query_uses_the_partial_index(renv: REnv) -> None:
    stmt = ("SELECT seq, start_us, end_us, size FROM segment WHERE camera_id = 'x' AND pruned = {f} "
            "AND end_us <= 5 ORDER BY end_us, seq LIMIT 10")
    with renv.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r) for r in conn.execute(text("EXPLAIN QUERY PLAN " + stmt.format(f="0"))))
        else:
            conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(str(r) for r in conn.execute(text("EXPLAIN " + stmt.format(f="false"))))
    assert "ix_segment_live_end" in plan, plan


def test_upload_lock_matches_the_policy(renv: REnv) -> None:
    lobby = renv.cam("lobby")
    start = datetime.now(UTC) - timedelta(minutes=5)
    (_, key, vid), = renv.record(lobby, [start], renv.upload_lock())
    info = renv.store.stat(renv.media, key, vid)
    assert info.retention is not None and info.retention.mode is LockMode.GOVERNANCE
    assert abs(info.retention.until - (start + 14 * DAY)) < timedelta(seconds=1)
    with pytest.raises(ObjectLockedError):
        renv.store.delete_version(renv.media, key, vid)


def test_migration_0003_matches_the_tables_and_goes_down_and_up(catalog_url: str) -> None:
    from sqlalchemy import inspect

    from archive.catalog.db import make_engine
    from archive.catalog.migrate import downgrade, upgrade
    from archive.retention.tables import AUDIT, HOLD, HOLD_CAMERA, HOLD_OBJECT, JOB_LOCK, RUN, STATE

    engine = make_engine(catalog_url)
    try:
        upgrade(engine)
        insp = inspect(engine)
        for table in (HOLD, HOLD_CAMERA, HOLD_OBJECT, STATE, AUDIT, JOB_LOCK, RUN):
            assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}, table.name
        assert "ix_segment_live_end" in {i["name"] for i in insp.get_indexes("segment")}
        downgrade(engine, "0002")
        insp = inspect(engine)
        assert "legal_hold" not in insp.get_table_names() and "segment" in insp.get_table_names()
        assert "ix_segment_live_end" not in {i["name"] for i in insp.get_indexes("segment")}
        upgrade(engine)
    finally:
        engine.dispose()


def test_segment_source_pages_through_ties_without_losing_or_repeating(catalog_url: str) -> None:
    from sqlalchemy import insert

    from archive.catalog.db import make_engine
    from archive.catalog.migrate import upgrade
    from archive.ledger.repo import SEGMENT
    from archive.ledger.segment_rows import segment_source

    engine = make_engine(catalog_url)
    try:
        upgrade(engine)
        rows = []
        for seq in range(50):  # ends in ties of 7 (clock steps make equal ends possible)
            end = 1000 + (seq // 7) * 10
            rows.append({"camera_id": "c", "seq": seq, "bucket": "b", "object_key": f"k{seq}", "version_id": "v",
                         "sha256": "0" * 64, "size": seq, "start_us": end - 10, "end_us": end, "duration_us": 10,
                         "container": "mpegts", "codec": "h264", "keyframe_start": True, "partial": False,
                         "pruned": seq in (3, 20), "ingested_us": 0})
        rows.append({**rows[0], "camera_id": "other", "seq": 0})
        with engine.begin() as conn:
            conn.execute(insert(SEGMENT), rows)
        src = segment_source(engine, page=4, first_page=2)
        got = list(src("c", -1, 10**15))
        assert [r[0] for r in got] == [s for s in range(50) if s not in (3, 20)]
        assert got[5] == (6, 990, 1000, 6)
        assert [r[0] for r in src("c", 1000, 1020)] == [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    finally:
        engine.dispose()
