"""One writer per camera log (issue 13 item 1): the writer claim in the catalog, on SQLite AND
PostgreSQL: a superseded claim is refused inside the append transaction and leaves nothing; two
engines racing to claim a camera: exactly one wins."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from archive.catalog.db import make_engine
from archive.errors import WriterClaimLostError, WriterHeldError
from archive.ledger import repo
from archive.ledger.writers import WriterClaims
from tests.integration.ledger_support import SEG, T0, Env, make_env, make_ledger, store_segment

CAM = "cam-claim"


@pytest.fixture
def env(catalog_url: str, s3_store, tmp_path: Path) -> Env:
    return make_env(catalog_url, s3_store, tmp_path)


def _snapshot(env: Env) -> tuple[int, int, dict[str, object], int, int]:
    with env.engine.connect() as conn:
        log_id = env.ledger.log_id(CAM)
        entries = conn.execute(select(func.count()).select_from(repo.ENTRY).where(repo.ENTRY.c.log_id == log_id))
        nodes = conn.execute(select(func.count()).select_from(repo.NODE).where(repo.NODE.c.log_id == log_id))
        state = conn.execute(select(repo.STATE).where(repo.STATE.c.log_id == log_id)).mappings().one()
        segs = conn.execute(select(func.count()).select_from(repo.SEGMENT).where(repo.SEGMENT.c.camera_id == CAM))
        gaps = conn.execute(select(func.count()).select_from(repo.GAP).where(repo.GAP.c.camera_id == CAM))
        return entries.scalar_one(), nodes.scalar_one(), dict(state), segs.scalar_one(), gaps.scalar_one()


def test_append_under_superseded_claim_is_refused_and_writes_nothing(env: Env) -> None:
    ledger_a = make_ledger(env.engine, env.store, env.key_file, env.media, env.logs, env.tag)
    ledger_a.claims = WriterClaims(env.engine, holder="node-a:1:aaaa", ttl_s=2.0)
    ledger_a.appender.claims = ledger_a.claims
    first = ledger_a.claims.claim(CAM)
    assert first.epoch == 1
    for i in range(3):  # 3 entries: a node of level 1 exists, the next append would add one
        facts, _ = store_segment(env, CAM, i)
        ledger_a.append_segment(CAM, facts)
    with env.engine.connect() as conn:
        head = conn.execute(select(repo.STATE.c.writer_holder, repo.STATE.c.writer_epoch)).one()
    assert tuple(head) == ("node-a:1:aaaa", 1)  # the head row carries the claim of its last append

    # B may not take a live claim (renewed just now, so a loaded machine cannot let it lapse first) ...
    ledger_a.claims.renew_all()
    claims_b = WriterClaims(env.engine, holder="node-b:2:bbbb", ttl_s=15)
    with pytest.raises(WriterHeldError, match="node-a:1:aaaa"):
        claims_b.claim(CAM)
    # ... but once A stopped renewing and the claim expired (database clock), B takes it over
    time.sleep(2.3)
    second = claims_b.claim(CAM)
    assert (second.holder, second.epoch) == ("node-b:2:bbbb", 2)

    before = _snapshot(env)
    facts, _ = store_segment(env, CAM, 3)
    with pytest.raises(WriterClaimLostError, match=r"epoch 1 of node-a:1:aaaa is no longer current.*node-b:2:bbbb"):
        ledger_a.append_segment(CAM, facts)
    with pytest.raises(WriterClaimLostError):
        ledger_a.append_gap(CAM, T0 + 3 * SEG, T0 + 4 * SEG, "camera_unreachable")
    with pytest.raises(WriterClaimLostError):  # a maintenance append under the lost claim, too
        ledger_a.append_prune(CAM, 0, 1, "test")
    assert _snapshot(env) == before  # no entry, no node, no state change, no segment or gap row

    # A's renewal finds the takeover and drops the claim; B appends from where A stopped
    ledger_a.claims.renew_all()
    assert ledger_a.claims.held(CAM) is None and CAM in ledger_a.claims.lost()
    ledger_b = make_ledger(env.engine, env.store, env.key_file, env.media, env.logs, env.tag)
    ledger_b.claims = claims_b
    ledger_b.appender.claims = claims_b
    assert ledger_b.append_segment(CAM, facts).seq == 3
    with env.engine.connect() as conn:
        head = conn.execute(select(repo.STATE.c.writer_holder, repo.STATE.c.writer_epoch)).one()
    assert tuple(head) == ("node-b:2:bbbb", 2)


def test_segment_append_without_a_claim_is_refused(env: Env) -> None:
    ledger = make_ledger(env.engine, env.store, env.key_file, env.media, env.logs, env.tag)
    ledger.claims = WriterClaims(env.engine, holder="plain:1:cccc")
    ledger.appender.claims = ledger.claims
    facts, _ = store_segment(env, CAM, 0)
    with pytest.raises(WriterClaimLostError, match="does not hold the camera's writer claim"):
        ledger.append_segment(CAM, facts)
    assert ledger.size(CAM) == 0


def test_expired_claim_still_held_by_its_holder_simply_continues(env: Env) -> None:
    """Database gone longer than the TTL and back, nobody took over: the same holder renews and appends."""
    ledger = make_ledger(env.engine, env.store, env.key_file, env.media, env.logs, env.tag)
    ledger.claims = WriterClaims(env.engine, holder="node-a:1:dddd", ttl_s=0.3)
    ledger.appender.claims = ledger.claims
    ledger.claims.claim(CAM)
    time.sleep(0.5)
    rec = ledger.claims.describe(CAM)
    assert rec is not None and not rec.live
    facts, _ = store_segment(env, CAM, 0)
    assert ledger.append_segment(CAM, facts).seq == 0  # expiry alone never refuses
    ledger.claims.renew_all()
    assert ledger.claims.held(CAM) is not None and ledger.claims.lost() == {}
    rec = ledger.claims.describe(CAM)
    assert rec is not None and rec.live and rec.claim.epoch == 1


def test_release_lets_the_next_holder_claim_at_once_and_epochs_grow(env: Env) -> None:
    a = WriterClaims(env.engine, holder="a:1:0001")
    b = WriterClaims(env.engine, holder="b:2:0002")
    assert a.claim(CAM).epoch == 1
    assert a.claim(CAM).epoch == 1  # the same holder renews
    a.release_all()
    assert b.claim(CAM).epoch == 2
    b.release_all()
    assert a.claim(CAM).epoch == 3


def _race(engines: list[Engine], camera: str) -> tuple[list[tuple[str, int]], list[str]]:
    """Both engines claim ``camera`` at the same moment (a barrier); returns (won, refused)."""
    barrier = threading.Barrier(len(engines))
    won: list[tuple[str, int]] = []
    refused: list[str] = []
    lock = threading.Lock()

    def race(i: int) -> None:
        claims = WriterClaims(engines[i], holder=f"racer-{i}:{camera}")
        barrier.wait()
        try:
            c = claims.claim(camera)
            with lock:
                won.append((c.holder, c.epoch))
        except WriterHeldError as exc:
            with lock:
                refused.append(str(exc))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return won, refused


def test_two_engines_racing_to_claim_exactly_one_wins(catalog_url: str, env: Env) -> None:
    engines = [make_engine(catalog_url), make_engine(catalog_url)]
    try:
        for round_ in range(8):
            camera = f"race-{round_}"
            won, refused = _race(engines, camera)
            assert len(won) == 1 and len(refused) == 1, (won, refused)
            assert won[0][1] == 1
            with engines[0].connect() as conn:
                row = conn.execute(text("SELECT holder, epoch FROM writer_claim WHERE camera_id = :c"),
                                   {"c": camera}).one()  # fmt: skip
            assert tuple(row) == won[0]
    finally:
        for e in engines:
            e.dispose()
