"""Benchmark of the command-center pages' server work over a large catalog.

Run: ``.venv/bin/python tests/bench/bench_web.py [--cameras 500] [--days 1] [--queries 200] [--before 50] [--reuse]
[--db sqlite|postgres]``

The catalog is the API bench's fill (tests/bench/bench_api.py: 10 s segments, a 2-minute gap per
camera per day; its full size is 56 cameras x 30 days = 14.5M segments) in a SQLite file (or the
PostgreSQL schema ``bench_web``), here
with ``--cameras`` cameras (the map and camera list need 500) over ``--days`` days: scaled down
by default (500 x 1 day = 4.3M segments) to fit the time on a 2-core machine; the fill ends now
(the cameras are recording, as in service; the API bench's ends at midnight) and nothing is pruned
(the API bench prunes its first 3 days); the coverage pieces are built as migration 0015 builds them
for an existing catalog (a ``--reuse`` of a fill made before it runs that migration, timed). Measured through
the real app (``create_app(deps, pages=web_pages())``, audit trail on, Litestar's TestClient, one
logged-in investigator session), so each number is the server's time plus the in-process client:

1. ``GET /ui/cameras`` (500 rows with status and last segment): first render, then p50/p99
   (target first render <= 300 ms); ``GET /ui/map`` (the page) and ``GET /ui/map/cameras.json``
   (the map's status refresh, every 15 s in the page: target p99 <= 50 ms).
2. timeline data of 16 cameras x 24 h: ``SearchService.recordings`` of 16 cameras over one day
   (the intervals merged server-side: covered, gaps, unaccounted per camera; target p99 <= 100 ms),
   and one camera's ``GET /ui/cameras/ID/day.json`` (what the timeline page fetches).
3. side by side, in-process, ``--before`` times each: the computations these answers used before
   the coverage pieces (issue 17), with the same results asserted: the status of 500 cameras from
   their segments of the last 10 min / 24 h merged, against ``SearchService.last_recorded``;
   16 cameras x 24 h merged segment by segment (``recordings.scanned_coverage``) against the pieces.

Click-to-first-frame is not measured here (it needs the browser: tests/e2e/test_web_grid.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from archive.catalog.db import make_engine
from archive.catalog.migrate import current_revision, head_revision, upgrade
from archive.errors import ConflictError
from tests.bench.bench_api import DAY_US, SEG_US, WHO, cameras, count_segments, fill, summary, timed, warm

NEAR_US = 600_000_000

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def app_and_client(url: str, key_dir: Path) -> tuple[Any, Any]:
    from litestar.testing import TestClient

    from archive.api.app import create_app
    from archive.api.deps import ApiDeps
    from archive.audit.service import AuditTrail
    from archive.identity.model import Role
    from archive.identity.service import IdentityService
    from archive.ledger import LedgerSettings
    from archive.ledger.keyring import KeyRing
    from archive.search.service import SearchService
    from archive.secretbox import SecretBox
    from archive.web import web_pages

    engine = make_engine(url)
    lset = LedgerSettings()
    box = SecretBox.from_key_file(key_dir / "credentials.key")
    identity = IdentityService(engine, cache_seconds=2.0)
    with contextlib.suppress(ConflictError):  # a reused fill has the user already
        identity.add_user("bench-inv", "Bench", Role.INVESTIGATOR, agency="police")
    token = identity.create_token("bench-inv", days=1, label="bench").secret
    deps = ApiDeps(identity=identity, search=SearchService(engine, cache_seconds=2.0),
                   audit=AuditTrail(engine, KeyRing(engine, box, lset), None, origin_prefix=lset.origin_prefix,
                                    log_bucket=lset.log_bucket))  # fmt: skip
    client = TestClient(create_app(deps, pages=web_pages()), base_url="http://127.0.0.1")
    client.__enter__()
    form = client.get("/ui/login")
    csrf = CSRF.search(form.text)
    assert csrf
    r = client.post("/ui/login", data={"csrf": csrf.group(1), "token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return deps, client


def status_before(engine: Any, ids: list[str], now: int) -> dict[str, int | None]:
    """The newest media end of each camera as the pages computed it before ``last_recorded``: the
    coverage of the last 10 min merged from its segments, then of 24 h for those with none."""
    from archive.search import recordings

    last: dict[str, int | None] = {}
    pending = ids
    with engine.connect() as conn:
        for window in (NEAR_US, DAY_US):
            missing = []
            for cam in pending:
                c = recordings.scanned_coverage(conn, cam, now - window, now, now)
                last[cam] = c.covered[-1].end_us if c.covered else None
                if not c.covered:
                    missing.append(cam)
            pending = missing
            if not pending:
                break
    return last


def side_by_side(search: Any, engine: Any, ids: list[str], end_us: int, days: int, n: int) -> list[dict[str, Any]]:
    """The computations as they were before the coverage pieces against now, same answers asserted."""
    from archive.search import recordings

    now = end_us + 30_000_000
    assert status_before(engine, ids, now) == search.last_recorded(WHO, ids, now, (NEAR_US, DAY_US))
    before = summary(f"status of {len(ids)} cameras, before: segments of 10 min / 24 h merged",
                     timed(lambda: status_before(engine, ids, now), n, 2))  # fmt: skip
    after = summary(f"status of {len(ids)} cameras, now: SearchService.last_recorded",
                    timed(lambda: search.last_recorded(WHO, ids, now, (NEAR_US, DAY_US)), n, 2))  # fmt: skip
    print(f"    status: before / now = {before['p99_ms'] / after['p99_ms']:.1f}x at p99", flush=True)
    rnd = random.Random(5)
    picks = [(end_us - rnd.randrange(1, days + 1) * DAY_US, rnd.sample(ids, min(16, len(ids)))) for _ in range(n + 2)]
    it = iter(picks)

    def scanned() -> None:
        lo, cams = next(it)
        with engine.connect() as conn:
            for c in cams:
                recordings.scanned_coverage(conn, c, lo, lo + DAY_US, now)

    for lo, cams in picks[:3]:
        with engine.connect() as conn:
            assert [recordings.scanned_coverage(conn, c, lo, lo + DAY_US, now) for c in sorted(cams)] == list(
                search.recordings(WHO, cams, lo, lo + DAY_US, limit=1).coverage)
    old = summary("timeline data 16 x 24 h, before: every segment merged", timed(scanned, n, 2))
    it = iter(picks)

    def pieces() -> None:
        lo, cams = next(it)
        search.recordings(WHO, cams, lo, lo + DAY_US, limit=1)

    new = summary("timeline data 16 x 24 h, now: coverage pieces", timed(pieces, n, 2))
    print(f"    timeline: before / now = {old['p99_ms'] / new['p99_ms']:.1f}x at p99", flush=True)
    return [before, after, old, new]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=500)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--before", type=int, default=50, help="runs of each computation as it was before the pieces")
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "bench-web"))
    ap.add_argument("--reuse", action="store_true", help="keep an existing fill")
    ap.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"],
                    help="postgres: schema bench_web on the machine's server (tests.fixtures.catalog.PG_BASE)")
    args = ap.parse_args()
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    db = d / f"web-{args.cameras}x{args.days}.sqlite3"
    url = f"sqlite:///{db}"
    have = args.reuse and db.exists()
    if args.db == "postgres":
        from sqlalchemy import create_engine

        from tests.fixtures.catalog import PG_BASE

        admin = create_engine(PG_BASE)
        with admin.begin() as conn:
            have = bool(args.reuse and conn.exec_driver_sql(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = 'bench_web' AND table_name = 'segment'"
            ).first())  # fmt: skip
            if not have:
                conn.exec_driver_sql("DROP SCHEMA IF EXISTS bench_web CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA bench_web")
        admin.dispose()
        url = f"{PG_BASE}?options=-csearch_path%3Dbench_web"
    cams = cameras(args.cameras)
    # the fill ends now (not at midnight as the API bench's): the cameras are recording, as in service
    end_us = time.time_ns() // 1000 // SEG_US * SEG_US
    if have:
        with make_engine(url).connect() as conn:
            end_us = int(conn.exec_driver_sql("SELECT max(end_us) FROM segment").scalar() or end_us)
        engine = make_engine(url)
        if current_revision(engine) != head_revision():
            t = time.monotonic()
            upgrade(engine)  # 0015 builds the coverage pieces of the existing segments
            print(f"  migrated {url} to {head_revision()} in {time.monotonic() - t:.1f} s", flush=True)
    else:
        if args.db == "sqlite" and db.exists():
            db.unlink()
        print(f"fill: {args.cameras} cameras x {args.days} days ...", flush=True)
        print(f"  filled in {fill(make_engine(url), cams, args.days, end_us, d, pruned_days=0):.1f} s", flush=True)
    segments = count_segments(make_engine(url))
    print(f"catalog: {segments} segments; warmed in {warm(make_engine(url), url):.1f} s", flush=True)
    os.environ.setdefault("ARCHIVE_LOG_LEVEL", "warning")
    deps, client = app_and_client(url, d)
    n = args.queries
    results: list[dict[str, Any]] = []
    t = time.perf_counter()
    first = client.get("/ui/cameras")
    first_ms = (time.perf_counter() - t) * 1000
    assert first.status_code == 200 and first.text.count("<tr data-camera=") == args.cameras, first.text[:300]
    print(f"  GET /ui/cameras first render ({args.cameras} rows): {first_ms:.1f} ms (target <= 300 ms: "
          f"{'OK' if first_ms <= 300 else 'MISSED'})", flush=True)  # fmt: skip
    results.append({"what": "GET /ui/cameras first render", "ms": round(first_ms, 2), "target_ms": 300,
                    "ok": first_ms <= 300})  # fmt: skip

    def ok(path: str) -> None:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])

    results.append(summary(f"GET /ui/cameras ({args.cameras} rows)", timed(lambda: ok("/ui/cameras"), n, 5), 300.0))
    results.append(summary("GET /ui/map (page)", timed(lambda: ok("/ui/map"), n, 5), 300.0))
    shown = client.get("/ui/map/cameras.json").json()["cameras"]
    assert len(shown) == args.cameras
    results.append(summary(f"GET /ui/map/cameras.json (status refresh, {args.cameras} cameras)",
                           timed(lambda: ok("/ui/map/cameras.json"), n, 5), 50.0))  # fmt: skip
    rnd = random.Random(3)
    ids = [c.id for c in cams]

    def day_of_16() -> None:
        lo = end_us - rnd.randrange(1, args.days + 1) * DAY_US  # a whole recorded 24 h
        got = deps.search.recordings(WHO, rnd.sample(ids, min(16, len(ids))), lo, lo + DAY_US, limit=1).coverage
        assert len(got) == min(16, len(ids)) and all(c.covered for c in got)

    results.append(summary("timeline data, 16 cameras x 24 h (merged coverage)", timed(day_of_16, n, 5), 100.0))
    day = time.strftime("%Y-%m-%d", time.gmtime((end_us - DAY_US / 2) / 1e6 + 7 * 3600))  # a filled WIB day

    def day_json() -> None:
        ok(f"/ui/cameras/{rnd.choice(ids)}/day.json?day={day}")

    results.append(summary("GET /ui/cameras/ID/day.json (one camera's day)", timed(day_json, n, 5), 100.0))
    results += side_by_side(deps.search, make_engine(url), ids, end_us, args.days, args.before)
    out = d / "bench-web.json"
    out.write_text(json.dumps({"cameras": args.cameras, "days": args.days, "segments": segments,
                               "results": results}, indent=1))  # fmt: skip
    print(f"results: {out}")
    client.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
