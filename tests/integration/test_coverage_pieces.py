"""The coverage pieces (archive/ledger/coverage.py) against the slow truth, on SQLite and PostgreSQL.

The truth is the segment-by-segment merge (:func:`archive.search.recordings.scanned_coverage`, what
every coverage answer was before the pieces); the pieces must give exactly the same covered,
pruned, gap and unaccounted intervals, counts and bytes for any range, and the table must equal
one rebuilt from the segments after every kind of change: appends in and out of order, holes
just under and over the tolerance, overlapping and long segments, gaps, prunes (by the ledger and
by a real retention run with a legal hold), and the migration's backfill of an existing catalog.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from archive.catalog.migrate import downgrade, upgrade
from archive.catalog.registry import RegistryRepository
from archive.identity.model import Principal, Role
from archive.integrity import GapReason
from archive.ledger import SegmentFacts
from archive.ledger.coverage import BUCKET_US, rebuild_all
from archive.model import Camera, Owner, OwnerKind, us_from_utc, utc_from_us
from archive.search import recordings
from archive.search.service import SearchService
from archive.secretbox import SecretBox
from tests.integration.ledger_support import MEDIA, T0, make_env
from tests.integration.retention_support import DAY, SEG, make_renv, starts, wait_until

CAM, OTHER = "cam-p", "cam-q"
WHO = Principal("inv", "Inv", Role.INVESTIGATOR, "police", None, "0" * 16)
T0_US = us_from_utc(T0)


_TABLES = ("SELECT camera_id, bucket, pruned, start_us, end_us, last_start_us, segments, bytes FROM coverage_piece "
           "ORDER BY camera_id, bucket, pruned, start_us", "SELECT * FROM camera_latest ORDER BY camera_id")


def pieces_table(engine: Engine) -> list[list[tuple[object, ...]]]:
    """The rows of ``coverage_piece`` and ``camera_latest``."""
    with engine.connect() as conn:
        return [[tuple(r) for r in conn.execute(text(q)).all()] for q in _TABLES]


def rebuilt(engine: Engine) -> list[list[tuple[object, ...]]]:
    """The tables as rebuilt from the segments (in a transaction rolled back)."""
    with engine.connect() as conn:
        trans = conn.begin()
        rebuild_all(conn)
        rows = [[tuple(r) for r in conn.execute(text(q)).all()] for q in _TABLES]
        trans.rollback()
    return rows


def assert_same_as_truth(engine: Engine, camera: str, ranges: list[tuple[int, int]], now_us: int) -> int:
    """Every range's coverage from the pieces equals the segment-by-segment merge; returns how many
    ranges had media in them."""
    with_media = 0
    with engine.connect() as conn:
        for lo, hi in ranges:
            fast = recordings.coverage(conn, camera, lo, hi, now_us)
            slow = recordings.scanned_coverage(conn, camera, lo, hi, now_us)
            assert fast == slow, (camera, lo - T0_US, hi - T0_US)
            with_media += bool(slow.covered or slow.pruned)
    return with_media


def random_ranges(rnd: random.Random, span_us: int, n: int) -> list[tuple[int, int]]:
    out = [(T0_US - 3600_000_000, T0_US + span_us + 3600_000_000)]  # everything
    for _ in range(n):
        lo = T0_US + rnd.randrange(-1_200_000_000, span_us)
        out.append((lo, lo + rnd.choice([1, 499_999, 500_000, 10_000_000, 60_000_000, BUCKET_US, BUCKET_US + 1,
                                         rnd.randrange(1, span_us)])))  # fmt: skip
    for b in range(T0_US // BUCKET_US, (T0_US + span_us) // BUCKET_US + 1):  # ranges on bucket edges
        out += [(b * BUCKET_US, (b + 1) * BUCKET_US), (b * BUCKET_US - 1, b * BUCKET_US + 1)]
    return out


def test_pieces_equal_the_segment_merge_after_appends_gaps_and_prunes(catalog_url: str, s3_store,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    env = make_env(catalog_url, s3_store, tmp_path)
    rnd = random.Random(17)
    facts: list[tuple[str, int, int]] = []
    t = T0_US
    for _ in range(400):  # one camera's messy day: 2-60 s segments, holes around the tolerance, overlaps
        length = rnd.choice([2, 10, 10, 10, 30, 60]) * 1_000_000
        facts.append((CAM, t, t + length))
        t += length + rnd.choice([0, 0, 0, 0, 120_000, 499_999, 500_000, 500_001, 2_000_000, -300_000,
                                  -length // 2, 700_000_000])  # fmt: skip
    facts.append((CAM, T0_US + 1_000_000_000, T0_US + 1_000_000_000 + 16 * 60_000_000))  # longer than MAX_SEGMENT_US
    late = facts[50:60]  # appended last, out of order (a spool drained after a restart)
    facts = facts[:50] + facts[60:] + late
    facts += [(OTHER, T0_US + k * 10_000_000, T0_US + (k + 1) * 10_000_000) for k in range(200)]
    for n, (cam, s, e) in enumerate(facts):
        env.ledger.append_segment(cam, SegmentFacts(
            object_key=f"{cam}/{n:06d}.ts", version_id=f"v{n}", sha256=f"{n:064x}", size=1000 + n, start=utc_from_us(s),
            end=utc_from_us(e), duration_us=e - s, media=MEDIA))  # fmt: skip
    span = t - T0_US
    env.ledger.append_gap(CAM, utc_from_us(T0_US + 300_000_000), utc_from_us(T0_US + 900_000_000),
                          GapReason.CAMERA_UNREACHABLE, "down")  # fmt: skip
    assert pieces_table(env.engine) == rebuilt(env.engine)
    ranges = random_ranges(rnd, span, 150)
    now = T0_US + span // 2  # a range reaching past now: nothing after it is unaccounted
    assert assert_same_as_truth(env.engine, CAM, ranges, now) > 100
    # retention prunes (the ledger marks them): runs that start and end mid-bucket, and held seqs skipped
    for lo_seq, hi_seq in ((0, 37), (40, 41), (120, 260), (262, 300)):
        env.ledger.append_prune(CAM, lo_seq, hi_seq, "test-rule")
    env.ledger.append_prune(OTHER, 0, 100, "test-rule")
    assert pieces_table(env.engine) == rebuilt(env.engine)
    assert assert_same_as_truth(env.engine, CAM, ranges, now) > 100
    assert assert_same_as_truth(env.engine, OTHER, random_ranges(rnd, 2000_000_000, 40), now) > 10
    with env.engine.connect() as conn:
        for lo, hi in ranges[::5]:  # several cameras in one read (the timeline's 16 lanes, sightings)
            assert recordings.coverages(conn, [OTHER, CAM, "cam-none"], lo, hi, now) == {
                c: recordings.scanned_coverage(conn, c, lo, hi, now) for c in (CAM, OTHER, "cam-none")}
        whole = recordings.coverage(conn, CAM, *ranges[0], now)
    assert whole.pruned and whole.covered and whole.gaps and whole.segments == 401
    # the migration builds the same table for an existing catalog
    before = pieces_table(env.engine)
    downgrade(env.engine, "0014")
    upgrade(env.engine)
    assert pieces_table(env.engine) == before
    env.engine.dispose()


def test_last_recorded_equals_the_recordings_search(catalog_url: str, s3_store, tmp_path: Path) -> None:
    env = make_env(catalog_url, s3_store, tmp_path)
    now = T0_US + 86_400_000_000
    cases = {  # camera -> its segments (start, end, pruned)
        "c-live": [(now - 30_000_000, now - 20_000_000, False), (now - 20_000_000, now - 10_000_000, False)],
        "c-future": [(now - 5_000_000, now + 5_000_000, False)],  # ends after now: clipped
        "c-pruned-newest": [(now - 300_000_000, now - 290_000_000, False), (now - 60_000_000, now - 50_000_000, True)],
        "c-old": [(now - 80_000_000_000, now - 79_990_000_000, False)],  # only in the 24 h window
        "c-none": [(now - 90_000_000_000, now - 89_990_000_000, False)],  # older than 24 h
        "c-long": [(now - 2_000_000_000, now - 700_000_000, False)],  # 21 min: starts before lo - MAX_SEGMENT_US
        # the newest end is a 29-minute segment, too long for the 10-minute window's overlap rule: the
        # answer is the shorter one's end
        "c-future-start": [(now - 60_000_000, now - 50_000_000, False), (now + 10_000_000, now + 20_000_000, False)],
        "c-all-pruned": [(now - 60_000_000, now - 50_000_000, True)],
        "c-long-recent": [(now - 1_740_000_000, now - 60_000_000, False),
                          (now - 180_000_000, now - 120_000_000, False)],
    }
    for cam, segs in cases.items():
        for n, (s, e, p) in enumerate(segs):
            seq = env.ledger.append_segment(cam, SegmentFacts(
                object_key=f"{cam}/{n}.ts", version_id="v", sha256=f"{n:064x}", size=10, start=utc_from_us(s),
                end=utc_from_us(e), duration_us=e - s, media=MEDIA)).seq  # fmt: skip
            if p:
                env.ledger.append_prune(cam, seq, seq + 1, "test-rule")
    RegistryRepository(env.engine, SecretBox.from_key_file(env.key_file)).apply(
        [Owner("dishub", "Dishub", OwnerKind.GOVERNMENT, ("police",))],
        [(Camera(c, c, "dishub", "rtsp://10.0.0.1/s", -7.47, 112.43, "Jl. A", ()), None) for c in cases])  # fmt: skip
    search = SearchService(env.engine, now_us=lambda: now)
    windows = (600_000_000, 86_400_000_000)
    got = search.last_recorded(WHO, sorted(cases), now, windows)
    truth: dict[str, int | None] = {}
    for cam in cases:  # what the pages computed before: the last covered interval of recordings()
        for w in windows:
            cov = search.recordings(WHO, [cam], now - w, now, limit=1).coverage[0]
            truth[cam] = cov.covered[-1].end_us if cov.covered else None
            if cov.covered:
                break
    assert got == truth
    assert got["c-future"] == now and got["c-none"] is None and got["c-pruned-newest"] == now - 290_000_000
    assert got["c-long-recent"] == now - 120_000_000 and got["c-future-start"] == now - 50_000_000
    assert got["c-all-pruned"] is None
    assert pieces_table(env.engine) == rebuilt(env.engine)
    env.engine.dispose()


def test_retention_with_a_hold_keeps_the_pieces_true(catalog_url: str, s3_store, retention_store,
                                                     tmp_path: Path) -> None:  # fmt: skip
    from archive.retention.audit import HoldActor

    renv = make_renv(catalog_url, retention_store, tmp_path, admin=s3_store)
    lobby = renv.cam("lobby")
    first = renv.clock() - 20 * DAY
    renv.record(lobby, starts(first, 10) + starts(first + 10 * SEG + timedelta(seconds=5), 5), renv.upload_lock())
    wait_until(renv.clock() + timedelta(seconds=2))
    svc = renv.service(batch_size=100)
    held = (us_from_utc(first + 3 * SEG), us_from_utc(first + 6 * SEG))  # seqs 3, 4, 5
    svc.holds.create(HoldActor("budi", Role.INVESTIGATOR), case_id="LP/1", reason="theft", cameras=[lobby],
                     start_us=held[0], end_us=held[1])
    report = svc.run()
    assert report.execution.deleted == 12
    lo, hi = us_from_utc(first) - 60_000_000, us_from_utc(first + 20 * SEG)
    now = us_from_utc(renv.clock())
    with renv.engine.connect() as conn:
        cov = recordings.coverage(conn, lobby, lo, hi, now)
    assert [(i.start_us, i.end_us) for i in cov.covered] == [held]
    assert len(cov.pruned) == 3 and cov.segments == 15  # before the hold, after it, after the 5 s hole
    assert pieces_table(renv.engine) == rebuilt(renv.engine)
    ranges = [(lo, hi)] + [(us_from_utc(first) + k * 5_000_000, us_from_utc(first) + k * 7_000_000 + 1)
                           for k in range(1, 40)]  # fmt: skip
    assert assert_same_as_truth(renv.engine, lobby, ranges, now) > 30
    renv.engine.dispose()


def test_camera_list_from_the_cached_registry_equals_the_query(catalog_url: str, tmp_path: Path) -> None:
    from archive.catalog.db import make_engine
    from archive.search.model import CameraQuery

    engine = make_engine(catalog_url)
    upgrade(engine)
    owners = [Owner("dishub", "Dishub", OwnerKind.GOVERNMENT, ("police",)),
              Owner("mall", "Mall", OwnerKind.PRIVATE, ())]
    cams = [(Camera(f"c-{i:02d}", f"C {i}", ("dishub", "mall")[i % 2], "rtsp://10.0.0.1/s", -7.47, 112.43, "Jl. A",
                    ("t",), enabled=i % 3 != 0), None) for i in range(30, 0, -1)]  # fmt: skip
    RegistryRepository(engine, SecretBox.from_key_file(tmp_path / "credentials.key")).apply(owners, cams)
    cached, direct = SearchService(engine, cache_seconds=60.0), SearchService(engine)
    who = [WHO, Principal("own", "Own", Role.OWNER, None, "mall", "1" * 16),
           Principal("adm", "Adm", Role.ADMIN, "kominfo", None, "2" * 16),
           Principal("x", "X", Role.INVESTIGATOR, "satpol", None, "3" * 16)]  # sees nothing
    for p in who:
        for q in (CameraQuery(limit=500), CameraQuery(limit=7, offset=5), CameraQuery(enabled_only=True, limit=9),
                  CameraQuery(limit=3, offset=40)):
            assert cached.cameras(p, q) == direct.cameras(p, q), (p.user_id, q)
    assert len(cached.cameras(WHO, CameraQuery(limit=500))) == 15
    engine.dispose()
