"""Benchmark: evidence export build and verification (issue 7 performance targets).

Run: ``.venv/bin/python tests/bench/bench_export.py [--segments 360] [--size 2500000]
[--multi-cameras 16] [--multi-segments 360] [--working-copy] [--rounds 3]``

1. **Build throughput**: one camera, ``--segments`` segments of ``--size`` bytes (default 360 x
   2.5 MB = 1 hour at 2 Mbit/s, 900 MB) in a real embedded SeaweedFS; the export build (gather,
   checkpoint, fetch ahead and hash every segment once, check it against its log entry, write
   it into the zip, manifest, report, signature, one fsync) against raw ``get_object`` of the
   same objects, read and discarded, sequentially and with 4 in parallel, measured side by side
   in the same run. Ratio = build MB/s / raw MB/s; target >= 0.7 (against one reader: with 4
   readers the raw read alone fills both cores of a 2-core machine together with the store
   server, and a build must hash every byte twice, segment and package, and write it). Also
   against the least any exporter must do: get_object + write the bytes to one local file +
   fsync.
2. **Memory**: ``--multi-cameras`` cameras x ``--multi-segments`` segments in one case export
   (default 16 x 360 = 16 cameras x 1 hour, 14.4 GB stored, and a 14.4 GB package: have ~30 GB
   of free disk), built in a child process; its peak RSS during the build
   (``/proc/self/clear_refs`` reset after setup, ``VmHWM`` read after; limit 200 MB) and the
   growth over its RSS before. The package is then verified (ZIP64 offsets past 4 GiB).
   Memory does not depend on the number of segments (read-ahead is bounded at 64 MiB in
   flight), so ``--multi-segments 30`` gives the same peak in a fraction of the time.
3. **Verification**: ``verify_package`` on the built zip (every file hashed + all checks)
   against ``sha256sum`` of the same zip (page cache warm for both). Ratio = sha256sum time /
   verify time; target >= 0.7.

Segments are random bytes (incompressible like video); ``--working-copy`` uses a real 10 s
H.264 clip instead and includes the ffmpeg working copy in the build time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from archive.api.ports import ExportRequest
from archive.bootstrap.assemble import assemble_exports
from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.catalog.registry import RegistryRepository
from archive.export.model import SYSTEM, ExportSettings
from archive.export.parts import Exports
from archive.export.verifier.checks import verify_package
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope
from archive.integrity import MediaInfo
from archive.ledger import Ledger, LedgerSettings, SegmentFacts
from archive.model import Camera, Owner, OwnerKind, us_from_utc
from archive.recorder.ffmpeg import find_ffmpeg
from archive.retention.audit import HoldLog
from archive.retention.holds import HoldService
from archive.secretbox import SecretBox
from archive.storage.base import LockMode, Retention
from archive.storage.s3 import S3Store
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.claims import claiming_writer

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
SEG = timedelta(seconds=10)
MEDIA = MediaInfo(container="mpegts", codec="h264", width=1920, height=1080, keyframe_start=True, partial=False)
WHO = Principal("inv1", "Bench", Role.INVESTIGATOR, "police", None, "bench")
ADMIN = Principal("admin1", "Bench admin", Role.ADMIN, "diskominfo", None, "bench")


def _now_us() -> int:
    return time.time_ns() // 1000


def _env(tmp: Path, store: S3Store, cams: list[str]) -> tuple[Exports, Ledger, str]:
    engine = make_engine(f"sqlite:///{tmp / 'catalog.sqlite3'}")
    upgrade(engine)
    box = SecretBox.from_key_file(tmp / "keys" / "credentials.key")
    reg = RegistryRepository(engine, box)
    reg.apply([Owner("dishub", "Dinas Perhubungan", OwnerKind.GOVERNMENT, ("police",))],
              [(Camera(c, c, "dishub", "rtsp://x/y", -7.47, 112.43, "bench"), None) for c in cams])
    media, logs = "bench-media", "bench-logs"
    store.ensure_bucket(media, object_lock=True)
    store.ensure_bucket(logs, object_lock=True)
    ledger = Ledger(engine, store, box, LedgerSettings(media_bucket=media, log_bucket=logs,
                                                       log_retention=timedelta(days=1)),
                    claims=claiming_writer(engine))
    holds = HoldService(engine, store, HoldLog(engine, _now_us), now_us=_now_us)
    ex = assemble_exports(engine=engine, store=store, ledger=ledger, registry=reg, holds=holds, audit=None,
                      policies=lambda: None, settings=ExportSettings(tmp / "exports"), auto_build=False)
    return ex, ledger, media


def _record(ledger: Ledger, store: S3Store, media: str, cams: list[str], n: int, size: int,
            clip: bytes | None) -> list[tuple[str, str]]:
    objs: list[tuple[str, str]] = []
    lock = Retention(LockMode.GOVERNANCE, datetime.now(UTC) + timedelta(days=1))

    def put(args: tuple[str, int]) -> tuple[str, int, str, str, bytes]:
        cam, i = args
        body = clip if clip is not None else os.urandom(size)
        key = f"{cam}/{i:06d}.ts"
        return cam, i, key, store.put_bytes(media, key, body, retention=lock).version_id, body

    with ThreadPoolExecutor(8) as pool:
        for cam in cams:
            for cam_, i, key, vid, body in pool.map(put, [(cam, i) for i in range(n)]):
                ledger.append_segment(cam_, SegmentFacts(
                    object_key=key, version_id=vid, sha256=hashlib.sha256(body).hexdigest(), size=len(body),
                    start=T0 + i * SEG, end=T0 + (i + 1) * SEG, duration_us=10_000_000, media=MEDIA))
                objs.append((key, vid))
        ledger.checkpoint(cam)  # signed and published now, as the service's checkpointer would have by export time
    return objs


def _raw(store: S3Store, media: str, objs: list[tuple[str, str]], workers: int) -> float:
    def read(o: tuple[str, str]) -> int:
        return sum(len(c) for c in store.open(media, o[0], o[1]))

    t = time.monotonic()
    if workers == 1:
        total = sum(read(o) for o in objs)
    else:
        with ThreadPoolExecutor(workers) as pool:
            total = sum(pool.map(read, objs))
    return total / (time.monotonic() - t) / 1e6


def _raw_to_disk(store: S3Store, media: str, objs: list[tuple[str, str]], dest: Path) -> float:
    """The least any exporter does: read every object and write it to one local file, fsync."""
    t = time.monotonic()
    total = 0
    with dest.open("wb") as fh:
        for key, vid in objs:
            for chunk in store.open(media, key, vid):
                fh.write(chunk)
                total += len(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    rate = total / (time.monotonic() - t) / 1e6
    dest.unlink()
    return rate


def _build(ex: Exports, cams: list[str], n: int, working_copy: bool) -> tuple[Path, float]:
    req = ExportRequest("BENCH-1", "bench", "bench", tuple(cams), us_from_utc(T0), us_from_utc(T0 + n * SEG))
    eid = ex.service.request(WHO, CameraScope(None), req, origin="bench").id
    ex.service.decide(ADMIN, CameraScope(None), eid, True, "bench", origin="bench")
    t = time.monotonic()
    rec = ex.builds.build(eid, SYSTEM, working_copy=working_copy)
    return Path(rec.package_path or ""), time.monotonic() - t


def _clip(tmp: Path) -> bytes:
    out = tmp / "clip.ts"
    subprocess.run([find_ffmpeg(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:"
                    "rate=25", "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M", "-g", "25", "-y",
                    str(out)], check=True, timeout=300)
    return out.read_bytes()


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def child(args: argparse.Namespace) -> int:
    """Phase 2 in its own process: record, reset the peak, build, report RSS."""
    tmp = Path(args.child)
    creds = EmbeddedSeaweed.read_credentials(tmp / "store")
    store = S3Store(args.endpoint, creds[0], creds[1], secure=False)
    cams = [f"cam-{i:02d}" for i in range(args.multi_cameras)]
    ex, ledger, media = _env(tmp / "multi", store, cams)
    _record(ledger, store, media, cams, args.multi_segments, args.size, None)
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    path, secs = _build(ex, cams, args.multi_segments, False)
    peak = _status("VmHWM")
    mb = args.multi_cameras * args.multi_segments * args.size / 1e6
    print(f"multi: {args.multi_cameras} cameras x {args.multi_segments} segments = {mb:,.0f} MB built in "
          f"{secs:.1f} s ({mb / secs:,.0f} MB/s); RSS before build {before / 2**20:.0f} MiB, peak during build "
          f"{peak / 2**20:.0f} MiB = {peak / 1e6:.0f} MB (growth {(peak - before) / 2**20:.0f} MiB; limit 200 MB: "
          f"{'ok' if peak <= 200e6 else 'EXCEEDED'}); package {path.stat().st_size:,} B", flush=True)
    t = time.monotonic()
    outcome = verify_package(path)
    print(f"multi: package verified {'VALID' if outcome.valid else 'INVALID'} in {time.monotonic() - t:.1f} s")
    return 0 if outcome.valid and peak <= 200e6 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segments", type=int, default=360, help="segments of the 1-camera export (default 360 = 1 h)")
    ap.add_argument("--size", type=int, default=2_500_000, help="bytes per segment (default 2.5 MB = 10 s, 2 Mbit/s)")
    ap.add_argument("--multi-cameras", type=int, default=16)
    ap.add_argument("--multi-segments", type=int, default=360,
                    help="segments per camera of the memory run (default 360 = 1 hour)")
    ap.add_argument("--working-copy", action="store_true", help="real H.264 clip and the ffmpeg working copy")
    ap.add_argument("--rounds", type=int, default=3,
                    help="timed rounds of raw reads + build side by side, and of verification; best kept")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        with EmbeddedSeaweed(tmp / "store") as weed:
            creds = weed.credentials
            store = S3Store(weed.endpoint, creds.access_key, creds.secret_key, secure=False, region=weed.region)
            clip = _clip(tmp) if args.working_copy else None
            size = len(clip) if clip else args.size
            ex, ledger, media = _env(tmp / "one", store, ["cam-one"])
            t = time.monotonic()
            objs = _record(ledger, store, media, ["cam-one"], args.segments, size, clip)
            mb = len(objs) * size / 1e6
            print(f"setup: {len(objs)} segments x {size:,} B = {mb:,.0f} MB stored and logged in "
                  f"{time.monotonic() - t:.1f} s")
            disk = max(_raw_to_disk(store, media, objs, tmp / "raw.bin") for _ in range(args.rounds))
            # Raw reads and a build side by side in each round (the machine's load changes between rounds).
            rounds: list[tuple[float, float, float, float]] = []
            path = Path()
            for i in range(args.rounds):
                raw1, raw4 = _raw(store, media, objs, 1), _raw(store, media, objs, 4)
                if i:
                    path.unlink()  # the previous round's package
                path, secs = _build(ex, ["cam-one"], args.segments, args.working_copy)
                rate = mb / secs
                rounds.append((rate / raw1, raw1, raw4, secs))
                print(f"round {i + 1}: raw get_object {raw1:,.0f} MB/s sequential, {raw4:,.0f} MB/s with 4 in "
                      f"parallel; build {rate:,.0f} MB/s; ratio {rate / raw1:.2f} / {rate / raw4:.2f}")
            raw1, raw4 = max(r[1] for r in rounds), max(r[2] for r in rounds)
            secs = min(r[3] for r in rounds)  # best of each side: a round's load spike hits one side only
            rate = mb / secs
            print(f"raw get_object (best of {args.rounds}): {raw1:,.0f} MB/s sequential, {raw4:,.0f} MB/s with 4 in "
                  f"parallel; get_object + write to one local file + fsync: {disk:,.0f} MB/s")
            print(f"build (best of {args.rounds}): {mb:,.0f} MB in {secs:.1f} s = {rate:,.0f} MB/s (working copy: "
                  f"{args.working_copy}); ratio {rate / raw1:.2f} vs sequential raw (target >= 0.7), {rate / raw4:.2f} "
                  f"vs parallel raw, {rate / disk:.2f} vs get + write + fsync")
            zsize = path.stat().st_size
            ver = []
            for _ in range(args.rounds):
                t = time.monotonic()
                outcome = verify_package(path)
                ver.append(time.monotonic() - t)
                assert outcome.valid, outcome.failures
            sums = []
            for _ in range(args.rounds):
                t = time.monotonic()
                subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
                sums.append(time.monotonic() - t)
            t = time.monotonic()
            with path.open("rb") as fh:
                hashlib.file_digest(fh, "sha256")
            lib = time.monotonic() - t
            print(f"verify: {zsize / 1e6:,.0f} MB zip in {min(ver):.2f} s ({zsize / min(ver) / 1e6:,.0f} MB/s); "
                  f"sha256sum {min(sums):.2f} s ({zsize / min(sums) / 1e6:,.0f} MB/s), hashlib {lib:.2f} s; "
                  f"ratio sha256sum/verify {min(sums) / min(ver):.2f} (target >= 0.7)")
            sys.stdout.flush()
            subprocess.run([sys.executable, __file__, "--child", str(tmp), "--endpoint", weed.endpoint,
                            "--multi-cameras", str(args.multi_cameras), "--multi-segments",
                            str(args.multi_segments), "--size", str(args.size)], check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
