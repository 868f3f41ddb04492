"""Benchmark: retention planning over 15M segments, and deletion against the local SeaweedFS.

Run: ``.venv/bin/python tests/bench/bench_retention.py [--db PATH] [--cameras 56] [--days 30]
[--delete-n 3000] [--workers 16] [--skip-plan] [--skip-delete]``

Planning (targets: <= 10 s and <= 500 MB RSS): a SQLite catalog with ``cameras x days`` of
10 s segments (56 x 30 = 14.5M rows, built once and reused from ``--db``; owners as in
ops/cameras.example.yaml: 40 dishub 30 d, 4 diskominfo 60 d, 2 satpolpp 60 d, 6 sunrise-mall
14 d, 4 toko-sumber-rejeki 14 d; 3 legal holds). ``RetentionService.preview`` (policy files,
reconcile, holds, plan) runs in a fresh child process per scenario so its peak RSS is its own:

- ``steady``: one hour after the 30 days: 1 h of dishub + 16 days of the 14-day owners expire.
- ``pressure``: the same, with the store 100 % full: the oldest unheld footage of owners that
  allow early deletion is added, oldest first, down to 88 %.

Deletion (target: >= 500 object versions/s): ``--delete-n`` segments (64 KiB) stored with a
short GOVERNANCE lock that has lapsed, logged by the ledger, then deleted by the executor (catalog
reads, fresh hold checks, deletes on ``--workers`` threads, prune entries). Baseline for the
ratio: the same number of bare ``delete_version`` calls on the same thread count.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from archive.catalog.db import make_engine  # noqa: E402
from archive.catalog.migrate import upgrade  # noqa: E402
from archive.model import Camera, us_from_utc  # noqa: E402
from tests.fixtures.claims import claiming_writer  # noqa: E402

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SEG_US = 10_000_000
SEG_BYTES = 2_500_000
OWNERS = [("dishub", 40), ("diskominfo", 4), ("satpolpp", 2), ("sunrise-mall", 6), ("toko-sumber-rejeki", 4)]


def cameras(n: int) -> list[Camera]:
    """``n`` cameras spread over the example owners in the proportions above."""
    out: list[Camera] = []
    total = sum(k for _, k in OWNERS)
    for owner, k in OWNERS:
        for i in range(max(1, round(k * n / total))):
            out.append(Camera(f"{owner}-{i:03d}", owner, owner, "rtsp://x", 0.0, 0.0, "bench"))
    return out[:n]


def build_db(path: Path, cams: list[Camera], days: int) -> int:
    """Create the catalog with ``days`` of segments per camera; returns the row count."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-1000000")
    idx = [r for r in con.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='segment' "
                                  "AND sql IS NOT NULL")]  # fmt: skip
    for name, _ in idx:
        con.execute(f'DROP INDEX "{name}"')
    per_hour = 3600 * 1_000_000 // SEG_US
    hours = days * 24
    sql = ("INSERT INTO segment (camera_id, seq, bucket, object_key, version_id, sha256, size, start_us, end_us, "
           "duration_us, container, codec, width, height, keyframe_start, partial, pruned, ingested_us) "
           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")  # fmt: skip
    t0us = us_from_utc(T0)
    n = 0
    for h in range(hours):
        rows = []
        for c in cams:
            for k in range(per_hour):
                seq = h * per_hour + k
                start = t0us + seq * SEG_US
                rows.append((c.id, seq, "archive-media", f"{c.id}/2025/03/{seq:012d}_seg.ts", f"{seq:032x}",
                             f"{seq:064x}", SEG_BYTES, start, start + SEG_US, SEG_US, "mpegts", "h264", 1920, 1080,
                             1, 0, 0, start + 2_000_000))  # fmt: skip
        con.executemany(sql, rows)
        n += len(rows)
        if h % 24 == 23:
            con.commit()
            print(f"  day {h // 24 + 1}/{days}: {n:,} rows", flush=True)
    con.commit()
    for _, ddl in idx:
        con.execute(ddl)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return n


def add_holds(path: Path, cams: list[Camera]) -> None:
    """Three legal holds (catalog only: the bench has no store)."""
    from archive.identity.model import Role
    from archive.retention.audit import HoldActor, HoldLog
    from archive.retention.holds import HoldService

    engine = make_engine(f"sqlite:///{path}")
    now = us_from_utc(T0 + timedelta(days=40))
    svc = HoldService(engine, None, HoldLog(engine, lambda: now), now_us=lambda: now)  # type: ignore[arg-type]
    base = us_from_utc(T0)
    for i, cam in enumerate((cams[-1], cams[-5], cams[0])):
        svc.create(HoldActor("bench", Role.ADMIN), case_id=f"B{i}", reason="bench", cameras=[cam.id],
                   start_us=base + (i + 1) * 86_400_000_000, end_us=base + (i + 2) * 86_400_000_000, apply=False)
    engine.dispose()


def peak_rss_mb() -> float:
    """Peak RSS of this process image (VmHWM; ``ru_maxrss`` would keep the parent's peak across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_plan(db: Path, scenario: str, n_cams: int, days: int) -> None:
    """Run one preview in this (fresh) process and print a JSON line with time and peak RSS."""
    from archive.bootstrap.assemble import assemble_retention
    from archive.retention.settings import RetentionSettings
    from archive.retention.usage import Usage

    engine = make_engine(f"sqlite:///{db}")
    now = T0 + timedelta(days=days, hours=1)
    total = n_cams * days * 86_400 // 10 * SEG_BYTES

    def usage() -> Usage:
        return Usage(total, total if scenario == "pressure" else total * 4, "bench")

    settings = RetentionSettings(policies_dir=ROOT / "retention_policies", default_keep_days=14)
    svc = assemble_retention(engine=engine, store=None, ledger=None, cameras=lambda: cameras(n_cams),  # type: ignore[arg-type]
                        settings=settings, now=lambda: now, usage=usage)
    t = time.perf_counter()
    preview = svc.preview()
    seconds = time.perf_counter() - t
    p = preview.plan
    pr = p.pressure
    print(json.dumps({
        "scenario": scenario, "seconds": seconds, "rss_mb": peak_rss_mb(),
        "planned": p.count, "bytes": p.bytes, "held": sum(c.held_count for c in p.cameras),
        "early": sum(s.count for c in p.cameras for s in c.selections if s.pressure),
        "need": pr.need_bytes if pr else 0,
    }))  # fmt: skip


def bench_plan(args: argparse.Namespace) -> list[dict[str, float]]:
    db = Path(args.db)
    cams = cameras(args.cameras)
    if not db.exists():
        print(f"building {db} ({len(cams)} cameras x {args.days} days of 10 s segments)...", flush=True)
        t = time.perf_counter()
        n = build_db(db, cams, args.days)
        add_holds(db, cams)
        print(f"  {n:,} segments in {time.perf_counter() - t:.0f} s, {db.stat().st_size / 1e9:.1f} GB", flush=True)
    results = []
    for scenario in ("steady", "pressure"):
        out = subprocess.run([sys.executable, __file__, "--child-plan", scenario, "--db", str(db),
                              "--cameras", str(args.cameras), "--days", str(args.days)],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def bench_delete(args: argparse.Namespace) -> dict[str, float]:
    from archive.bootstrap.assemble import assemble_retention
    from archive.integrity import MediaInfo
    from archive.ledger import Ledger, LedgerSettings, SegmentFacts
    from archive.retention.settings import RetentionSettings
    from archive.secretbox import SecretBox
    from archive.storage.base import LockMode, Retention
    from archive.storage.s3 import S3Store
    from archive.storage.seaweed import EmbeddedSeaweed

    media = MediaInfo(container="mpegts", codec="h264", width=1280, height=720, keyframe_start=True, partial=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    n, size = args.delete_n, 64 * 1024
    with EmbeddedSeaweed(tmp / "store") as weed:
        creds = weed.credentials
        store = S3Store(weed.endpoint, creds.access_key, creds.secret_key, secure=False, region=weed.region)
        store.ensure_bucket("media")
        store.ensure_bucket("logs")
        engine = make_engine(f"sqlite:///{tmp / 'catalog.sqlite3'}")
        upgrade(engine)
        ledger = Ledger(engine, store, SecretBox.from_key_file(tmp / "key"),
                        LedgerSettings(media_bucket="media", log_bucket="logs"),
                        claims=claiming_writer(engine))  # fmt: skip
        cam = Camera("sunrise-000", "bench", "sunrise-mall", "rtsp://x", 0.0, 0.0, "bench")
        body = hashlib.shake_256(b"bench").digest(size)
        sha = hashlib.sha256(body).hexdigest()
        first = datetime.now(UTC) - timedelta(days=20)

        def put(i: int, key_prefix: str) -> tuple[str, str]:
            key = f"{key_prefix}/{i:08d}.ts"
            until = datetime.now(UTC) + timedelta(seconds=3)
            return key, store.put_bytes("media", key, body, retention=Retention(LockMode.GOVERNANCE, until)).version_id

        t = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            objs = list(pool.map(lambda i: put(i, cam.id), range(n)))
            base = list(pool.map(lambda i: put(i, "baseline"), range(n)))
        print(f"  stored {2 * n} objects in {time.perf_counter() - t:.1f} s", flush=True)
        for i, (key, vid) in enumerate(objs):
            start = first + timedelta(seconds=10 * i)
            ledger.append_segment(cam.id, SegmentFacts(object_key=key, version_id=vid, sha256=sha, size=size,
                                                       start=start, end=start + timedelta(seconds=10),
                                                       duration_us=SEG_US, media=media))  # fmt: skip
        time.sleep(3.5)  # the short locks lapse: a legitimate delete after the retention date
        settings = RetentionSettings(policies_dir=ROOT / "retention_policies", media_bucket="media",
                                     default_keep_days=14, delete_workers=args.workers, batch_size=1000)
        svc = assemble_retention(engine=engine, store=store, ledger=ledger, cameras=lambda: [cam], settings=settings)
        preview = svc.preview()
        t = time.perf_counter()
        report = svc.executor.execute(preview.plan)
        executor_s = time.perf_counter() - t
        t = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(lambda kv: store.delete_version("media", kv[0], kv[1]), base))
        raw_s = time.perf_counter() - t
        left = sum(1 for _ in store.list_versions("media"))
        engine.dispose()
    return {"n": n, "deleted": report.deleted, "failed": report.failed, "executor_s": executor_s,
            "executor_rate": report.deleted / executor_s, "raw_rate": n / raw_s, "left": left}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "bench-retention-15m.sqlite3"),
                    help="catalog to plan over (built if missing, then reused)")  # fmt: skip
    ap.add_argument("--cameras", type=int, default=56)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--delete-n", type=int, default=3000, help="object versions to delete (default 3000)")
    ap.add_argument("--workers", type=int, default=16, help="delete threads (default 16)")
    ap.add_argument("--skip-plan", action="store_true")
    ap.add_argument("--skip-delete", action="store_true")
    ap.add_argument("--child-plan", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_plan:
        child_plan(Path(args.db), args.child_plan, args.cameras, args.days)
        return 0
    ok = True
    if not args.skip_plan:
        for r in bench_plan(args):
            good = r["seconds"] <= 10 and r["rss_mb"] <= 500
            ok &= good
            print(f"plan[{r['scenario']}]: {r['seconds']:.2f} s (target 10 s, ratio {r['seconds'] / 10:.2f}), "
                  f"peak RSS {r['rss_mb']:.0f} MB (target 500 MB, ratio {r['rss_mb'] / 500:.2f}); "
                  f"{r['planned']:,} segments planned ({r['early']:,} early under pressure), {r['held']:,} held "
                  f"-> {'OK' if good else 'MISSED'}")  # fmt: skip
    if not args.skip_delete:
        d = bench_delete(args)
        good = d["executor_rate"] >= 500 and d["failed"] == 0 and d["deleted"] == d["n"]
        ok &= good
        print(f"delete: {d['deleted']:,}/{d['n']:,} versions in {d['executor_s']:.2f} s = {d['executor_rate']:.0f}/s "
              f"(target 500/s, ratio {d['executor_rate'] / 500:.2f}); bare delete_version x{args.workers} threads "
              f"{d['raw_rate']:.0f}/s (executor/bare {d['executor_rate'] / d['raw_rate']:.2f}); "
              f"{d['left']} versions left -> {'OK' if good else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
