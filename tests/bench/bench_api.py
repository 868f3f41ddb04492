"""Benchmark of the evidence API over a full catalog (default 56 cameras x 30 days x 10 s = 14.5M segments).

Run: ``.venv/bin/python tests/bench/bench_api.py [--db sqlite|postgres|both] [--cameras 56] [--days 30]
[--queries 2000] [--http-seconds 30] [--rate 200] [--workers 1|2] [--reuse]``

On this 2-core machine the 200 requests/s target holds with ``--workers 1`` on SQLite (one writer
process avoids SQLite lock hand-offs) and ``--workers 2`` on PostgreSQL (its backends need CPU
too); ``archive api serve --workers N`` / ``[api] workers`` choose the same in production.

Per catalog (SQLite file in ``--dir``, PostgreSQL schema ``bench_api`` on 127.0.0.1):

1. fill: owners, cameras, segments (Core executemany on SQLite / COPY on PostgreSQL, with the
   segment indexes dropped during the load and rebuilt after), a 2-minute gap per camera per
   day, the first 3 days pruned, then the coverage pieces built from them (the migration's
   backfill, :func:`archive.ledger.coverage.rebuild_all`); timed. ``--reuse`` keeps an existing fill.
2. in-process: :class:`SearchService` calls as an investigator - a 1-hour single-camera
   recordings query (random camera and hour; also measured with the JSON rendering), and
   "which cameras saw this place in this hour" (random point, radius 500 m); p50/p90/p99/max.
3. HTTP on loopback: ``archive api`` app under uvicorn (one process, audit trail on: every
   request is appended to the hash-chained audit log in the same catalog), loaded by ``wrk``
   (closed loop, 4 connections) and by an open-loop generator sending exactly ``--rate``
   requests/s (latency measured from the scheduled send time, so queueing counts); p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from sqlalchemy import Engine, text

from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.catalog.registry import RegistryRepository
from archive.errors import ConflictError
from archive.identity.model import Principal, Role
from archive.ledger.coverage import rebuild_all
from archive.model import Camera, Owner, OwnerKind, us_from_utc
from archive.search.model import Near
from archive.search.service import SearchService
from archive.secretbox import SecretBox
from tests.fixtures.ports import free_port

PG_BASE = os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SEG_US = 10_000_000
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
CENTER = (-7.4722, 112.4338)  # Mojokerto
WHO = Principal("bench", "Bench", Role.INVESTIGATOR, "police", None, "0" * 16)


# -- data -------------------------------------------------------------------------------------
def cameras(n: int) -> list[Camera]:
    rnd = random.Random(7)
    return [Camera(f"cam-{i:03d}", f"Intersection {i}", "dishub", f"rtsp://10.0.{i // 250}.{i % 250}/s",
                   CENTER[0] + rnd.uniform(-0.03, 0.03), CENTER[1] + rnd.uniform(-0.03, 0.03), f"Jl. {i}",
                   ("intersection",)) for i in range(n)]  # fmt: skip


def t_end() -> int:
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return us_from_utc(now)


def segment_rows(cams: list[Camera], days: int, end_us: int, pruned_days: int = 3) -> Iterator[tuple[Any, ...]]:
    """Rows in (camera, time) order; a 2-minute gap per camera per day; the first ``pruned_days`` pruned."""
    start_us = end_us - days * DAY_US
    for c in cams:
        rnd = random.Random(c.id)
        seq, sha = 0, "ab" * 32
        for d in range(days):
            day0 = start_us + d * DAY_US
            gap_at = day0 + rnd.randrange(0, DAY_US - 2 * 60_000_000, SEG_US)
            pruned = d < pruned_days
            for k in range(DAY_US // SEG_US):
                s = day0 + k * SEG_US
                if gap_at <= s < gap_at + 120_000_000:
                    continue
                yield (c.id, seq, "archive-media", f"{c.id}/{s // 1_000_000}.ts", f"v{seq:031d}", sha, 2_500_000,
                       s, s + SEG_US, SEG_US, None, None, "mpegts", "h264", 1920, 1080, True, False, pruned, s, None)
                seq += 1


def gap_rows(cams: list[Camera], days: int, end_us: int) -> Iterator[tuple[Any, ...]]:
    start_us = end_us - days * DAY_US
    for c in cams:
        rnd = random.Random(c.id)
        for d in range(days):
            day0 = start_us + d * DAY_US
            gap_at = day0 + rnd.randrange(0, DAY_US - 2 * 60_000_000, SEG_US)
            yield (c.id, 10_000_000 + d, gap_at, gap_at + 120_000_000, "camera_unreachable", "bench outage")


SEG_COLS = ("camera_id", "seq", "bucket", "object_key", "version_id", "sha256", "size", "start_us", "end_us",
            "duration_us", "clock_offset_us", "camera_start_us", "container", "codec", "width", "height",
            "keyframe_start", "partial", "pruned", "ingested_us", "meta")  # fmt: skip
GAP_COLS = ("camera_id", "seq", "start_us", "end_us", "reason", "detail")


def _indexes(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='segment' "
                                        "AND sql IS NOT NULL").all()  # fmt: skip
        else:
            rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename='segment' "
                                     "AND schemaname=current_schema() AND indexname LIKE 'ix_%'")).all()  # fmt: skip
    return [(str(r[0]), str(r[1])) for r in rows]


def fill(engine: Engine, cams: list[Camera], days: int, end_us: int, key_dir: Path, pruned_days: int = 3) -> float:
    """Load the catalog (module docstring) and build its coverage pieces as the migration does
    for an existing catalog (the rows bypass the ledger, which keeps them at append); seconds taken."""
    started = time.monotonic()
    upgrade(engine)
    box = SecretBox.from_key_file(key_dir / "credentials.key")
    RegistryRepository(engine, box).apply([Owner("dishub", "Dishub", OwnerKind.GOVERNMENT, ("police",))],
                                          [(c, None) for c in cams])  # fmt: skip
    idx = _indexes(engine)
    with engine.begin() as conn:
        for name, _sql in idx:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    n = 0
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            sql = f"INSERT INTO segment ({', '.join(SEG_COLS)}) VALUES ({', '.join('?' * len(SEG_COLS))})"
            batch: list[tuple[Any, ...]] = []
            for row in segment_rows(cams, days, end_us, pruned_days):
                batch.append(row)
                if len(batch) == 100_000:
                    cur.executemany(sql, batch)
                    n += len(batch)
                    batch.clear()
                    print(f"\r  {n:,} segments", end="", flush=True)
            cur.executemany(sql, batch)
            n += len(batch)
            cur.executemany(f"INSERT INTO gap ({', '.join(GAP_COLS)}) VALUES (?, ?, ?, ?, ?, ?)",
                            list(gap_rows(cams, days, end_us)))  # fmt: skip
            raw.commit()
        finally:
            raw.close()
    else:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY segment ({', '.join(SEG_COLS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in segment_rows(cams, days, end_us, pruned_days):
                    copy.write_row(row)
                    n += 1
                    if n % 500_000 == 0:
                        print(f"\r  {n:,} segments", end="", flush=True)
            with cur.copy(f"COPY gap ({', '.join(GAP_COLS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in gap_rows(cams, days, end_us):
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
    print(f"\r  {n:,} segments loaded in {time.monotonic() - started:.0f} s; rebuilding {len(idx)} indexes", flush=True)
    with engine.begin() as conn:
        for _name, sql in idx:
            conn.exec_driver_sql(sql)
    built = time.monotonic()
    with engine.begin() as conn:
        pieces = rebuild_all(conn)
    print(f"  coverage pieces built as the migration does: {pieces:,} rows in {time.monotonic() - built:.0f} s",
          flush=True)  # fmt: skip
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.monotonic() - started


def count_segments(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM segment")).scalar() or 0)


# -- measuring --------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def summary(name: str, ms: list[float], target: float | None = None) -> dict[str, Any]:
    out = {"what": name, "n": len(ms), "p50_ms": round(pct(ms, 50), 2), "p90_ms": round(pct(ms, 90), 2),
           "p99_ms": round(pct(ms, 99), 2), "max_ms": round(max(ms), 2), "mean_ms": round(statistics.mean(ms), 2)}
    if target is not None:
        out["target_p99_ms"] = target
        out["ok"] = out["p99_ms"] <= target
    print(f"  {name}: n={out['n']} p50={out['p50_ms']} p90={out['p90_ms']} p99={out['p99_ms']} max={out['max_ms']} ms"
          + (f"  (target p99 <= {target} ms: {'OK' if out['ok'] else 'MISSED'})" if target else ""), flush=True)
    return out


def timed(fn: Callable[[], Any], n: int, warm: int = 50) -> list[float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def warm(engine: Engine, url: str) -> float:
    """Bring the catalog into the OS page cache (steady state of a serving catalog)."""
    started = time.monotonic()
    if engine.dialect.name == "sqlite":
        with open(url[len("sqlite:///"):], "rb") as f:
            while f.read(16 << 20):
                pass
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*), sum(size) FROM segment").all()
            conn.exec_driver_sql("SELECT count(*) FROM segment WHERE camera_id > '' AND start_us > 0").all()
    return time.monotonic() - started


def in_process(engine: Engine, cams: list[Camera], days: int, end_us: int, n: int) -> list[dict[str, Any]]:
    import msgspec

    from archive.api.deps import ApiSettings
    from archive.api.render import coverage_out, interval_out, segments_out
    from archive.api.schemas import RecordingsOut

    search, rnd = SearchService(engine), random.Random(1)
    times = ApiSettings().times
    first = end_us - days * DAY_US

    def hour() -> tuple[str, int, int]:
        lo = first + rnd.randrange(0, days * 24 - 1) * HOUR_US + rnd.randrange(0, 360) * SEG_US
        return rnd.choice(cams).id, lo, lo + HOUR_US

    def recordings(limit: int | None = None) -> Any:
        cam, lo, hi = hour()
        page = search.recordings(WHO, [cam], lo, hi, limit=limit)
        assert len(page.segments) >= (345 if limit else 100), len(page.segments)
        return cam, lo, hi, page

    def recordings_json(limit: int | None = None) -> None:
        cam, lo, hi, page = recordings(limit)
        body = RecordingsOut(zone=times.zone_name, range=interval_out(times, lo, hi), cameras=[cam],
                             coverage=[coverage_out(times, c) for c in page.coverage],
                             segments=segments_out(times, page.segments), next_cursor=page.next_cursor)
        msgspec.json.encode(body)

    def sightings() -> None:
        c = rnd.choice(cams)
        _, lo, hi = hour()
        found = search.sightings(WHO, Near(c.latitude + rnd.uniform(-0.002, 0.002),
                                           c.longitude + rnd.uniform(-0.002, 0.002), 500.0), lo, hi)
        assert found

    return [summary("recordings 1 h, 1 camera, default page (100 segments + coverage)", timed(recordings, n), 20.0),
            summary("  same + JSON body", timed(recordings_json, n), 20.0),
            summary("recordings 1 h, 1 camera, limit=500 (all ~360 segments)", timed(lambda: recordings(500), n),
                    20.0),
            summary("  same + JSON body", timed(lambda: recordings_json(500), n), 20.0),
            summary("which cameras saw this place in this hour (500 m)", timed(sightings, n), 50.0)]


# -- HTTP -------------------------------------------------------------------------------------
def bench_app() -> Any:
    """The API app over ``$BENCH_URL`` (audit trail on, no object store), as ``archive api serve``
    builds it with the default configuration (token and scope caches 2 s)."""
    from archive.api.app import create_app
    from archive.api.deps import ApiDeps
    from archive.audit.service import AuditTrail
    from archive.identity.service import IdentityService
    from archive.ledger import LedgerSettings
    from archive.ledger.keyring import KeyRing

    engine = make_engine(os.environ["BENCH_URL"])
    lset = LedgerSettings()
    box = SecretBox.from_key_file(Path(os.environ["BENCH_DIR"]) / "credentials.key")
    deps = ApiDeps(identity=IdentityService(engine, cache_seconds=2.0), search=SearchService(engine, cache_seconds=2.0),
                   audit=AuditTrail(engine, KeyRing(engine, box, lset), None, origin_prefix=lset.origin_prefix,
                                    log_bucket=lset.log_bucket))  # fmt: skip
    return create_app(deps)


def serve(url: str, port: int, key_dir: str, workers: int) -> None:
    """Child process: uvicorn with ``workers`` processes."""
    import uvicorn

    os.environ["BENCH_URL"], os.environ["BENCH_DIR"] = url, key_dir
    uvicorn.run("tests.bench.bench_api:bench_app", factory=True, host="127.0.0.1", port=port, workers=workers,
                log_level="warning", access_log=False)  # fmt: skip


def paths(cams: list[Camera], days: int, end_us: int, n: int = 5000) -> list[str]:
    from archive.search.times import TimeFormatter, load_zone

    t, rnd, first = TimeFormatter(load_zone("Asia/Jakarta")), random.Random(3), end_us - days * DAY_US
    out = []
    for _ in range(n):
        lo = first + rnd.randrange(0, days * 24) * HOUR_US
        out.append(f"/api/v1/recordings?camera={rnd.choice(cams).id}&start={t.local(lo).replace('+', '%2B')}"
                   f"&end={t.local(lo + HOUR_US).replace('+', '%2B')}")
    return out


WRK_LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
wrk.headers["Authorization"] = "Bearer %s"
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
"""


def run_wrk(port: int, token: str, plist: Path, seconds: int, conns: int) -> dict[str, Any] | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("  wrk not installed (apt-get install -y wrk): skipped")
        return None
    lua = plist.with_suffix(".lua")
    lua.write_text(WRK_LUA % (plist, token))
    cmd = [wrk, "-t", "2", "-c", str(conns), "-d", f"{seconds}s", "--latency", "-s", str(lua),
           f"http://127.0.0.1:{port}"]  # fmt: skip
    print("  $ " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    print("    " + out.replace("\n", "\n    ").rstrip())
    res: dict[str, Any] = {"what": f"wrk closed loop, {conns} connections, {seconds} s"}
    for line in out.splitlines():
        parts = line.split()
        if line.strip().startswith("Requests/sec:"):
            res["req_per_s"] = float(parts[1])
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            v = parts[1]
            res[f"p{parts[0][:-1]}_ms"] = float(v[:-2]) if v.endswith("ms") else (
                float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000)
        if "Non-2xx" in line:
            res["non_2xx"] = int(parts[-1])
    return res


class _Conn:
    """One keep-alive HTTP/1.1 connection (a minimal client: the generator must stay cheap)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = time.monotonic()

    async def get(self, path: str, token: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        self.used = time.monotonic()
        return status


async def _open_loop(port: int, token: str, plist: list[str], rate: float, seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors: dict[str, int] = {}
    idle: list[_Conn] = []

    async def one(path: str, due: float) -> None:
        while idle and time.monotonic() - idle[-1].used > 4.0:  # uvicorn closes idle keep-alives after 5 s
            idle.pop().writer.close()
        try:
            conn = idle.pop() if idle else _Conn(*await asyncio.open_connection("127.0.0.1", port))
        except OSError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        try:
            status = await conn.get(path, token)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
            idle.append(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            conn.writer.close()
        lat.append((time.perf_counter() - due) * 1000)

    rnd, tasks, start = random.Random(5), [], time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(rnd.choice(plist), due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for c in idle:
        c.writer.close()
    res = summary(f"HTTP open loop at {rate:g} req/s for {seconds:g} s (latency from scheduled send)", lat, 100.0)
    res.update({"sent": total, "achieved_req_per_s": round(total / elapsed, 1), "errors": errors})
    print(f"    achieved {res['achieved_req_per_s']} req/s, errors: {errors or 'none'}", flush=True)
    return res


def http(url: str, cams: list[Camera], days: int, end_us: int, key_dir: Path, tmp: Path, args: argparse.Namespace,
         engine: Engine) -> list[dict[str, Any]]:  # fmt: skip
    from archive.identity.service import IdentityService

    ident = IdentityService(engine)
    with contextlib.suppress(ConflictError):  # exists from an earlier run
        ident.add_user("bench", "Bench", Role.INVESTIGATOR, agency="police")
    token = ident.create_token("bench", days=1, label="bench").secret
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", url, "--port", str(port), "--dir", str(key_dir),
                             "--workers", str(args.workers)], cwd=str(Path(__file__).resolve().parents[2]))
    try:
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0 * args.workers)
        plist_file = tmp / "paths.txt"
        plist = paths(cams, days, end_us)
        plist_file.write_text("\n".join(plist) + "\n")
        out: list[dict[str, Any]] = []
        warm = asyncio.run(_open_loop(port, token, plist, 50, 3))
        del warm
        w = run_wrk(port, token, plist_file, args.http_seconds, 4)
        if w:
            out.append(w)
        out.append(asyncio.run(_open_loop(port, token, plist, args.rate, args.http_seconds)))
        with engine.connect() as conn:
            n = conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar()
        print(f"  audit trail now holds {n:,} entries (every request appended)")
        return out
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- main ---------------------------------------------------------------------------------------
def bench(db: str, args: argparse.Namespace) -> dict[str, Any]:
    cams, end_us = cameras(args.cameras), t_end()
    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    key_dir = base / "keys"
    if db == "sqlite":
        path = base / f"catalog-{args.cameras}x{args.days}.sqlite3"
        url = f"sqlite:///{path}"
        if not args.reuse and path.exists():
            path.unlink()
    else:
        from sqlalchemy import create_engine

        admin = create_engine(PG_BASE)
        with admin.begin() as conn:
            if not args.reuse:
                conn.exec_driver_sql("DROP SCHEMA IF EXISTS bench_api CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS bench_api")
        admin.dispose()
        url = f"{PG_BASE}?options=-csearch_path%3Dbench_api"
    engine = make_engine(url)
    print(f"== {db}: {args.cameras} cameras x {args.days} days x 10 s; API with {args.workers} worker(s)", flush=True)
    have = 0
    if args.reuse:
        try:
            have = count_segments(engine)
        except Exception:
            have = 0
    result: dict[str, Any] = {"db": db, "cameras": args.cameras, "days": args.days, "workers": args.workers}
    if have:
        print(f"  reusing {have:,} segments", flush=True)
        upgrade(engine)  # a fill made before migration 0015: it builds the coverage pieces
        end_us = int(engine.connect().exec_driver_sql("SELECT max(end_us) FROM segment").scalar() or end_us)
        end_us = end_us - end_us % DAY_US + (DAY_US if end_us % DAY_US else 0)
    else:
        result["fill_s"] = round(fill(engine, cams, args.days, end_us, key_dir), 1)
        print(f"  fill took {result['fill_s']} s", flush=True)
    result["segments"] = count_segments(engine)
    print(f"  catalog holds {result['segments']:,} segments", flush=True)
    print(f"  page cache warmed in {warm(engine, url):.0f} s", flush=True)
    result["in_process"] = in_process(engine, cams, args.days, end_us, args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        result["http"] = http(url, cams, args.days, end_us, key_dir, Path(tmp), args, engine)
    engine.dispose()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="both", choices=["sqlite", "postgres", "both"])
    ap.add_argument("--cameras", type=int, default=56)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--queries", type=int, default=2000, help="in-process queries per measurement")
    ap.add_argument("--http-seconds", type=int, default=30)
    ap.add_argument("--rate", type=float, default=200.0, help="open-loop request rate")
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "bench-api"), help="SQLite file and keys")
    ap.add_argument("--reuse", action="store_true", help="keep an existing fill of the same size")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.dir, args.workers)
        return 0
    results = [bench(db, args) for db in (["sqlite", "postgres"] if args.db == "both" else [args.db])]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
