"""Benchmark: ``verify camera`` (stream every stored segment from the object store by version id,
SHA-256 + size, plus the log checks) against ``sha256sum`` over the same bytes in local files.

Run: ``.venv/bin/python tests/bench/bench_verify.py [--segments N] [--size BYTES] [--workers W] [--rounds R]``

Both sides run in the same process run, alternating, best of ``--rounds``; the ratio
``sha256sum time / verify time`` is printed (1.0 = as fast as sha256sum on local files; the
target is >= 0.7). The store is a real embedded SeaweedFS on loopback, the catalog SQLite.
The sha256sum files are in the page cache (read once before timing), so the baseline is pure
hashing: the store's HTTP path, SeaweedFS's own CPU and the log checks are the overhead.
For reference it also times ``hashlib.file_digest`` (OpenSSL, SHA-NI where the CPU has it) on
one thread over the same files: Debian's ``sha256sum`` may not use SHA-NI and be slower.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.integrity import MediaInfo
from archive.ledger import Ledger, LedgerSettings, SegmentFacts
from archive.ledger.verify import verify_camera
from archive.secretbox import SecretBox
from archive.storage.s3 import S3Store
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.claims import claiming_writer

CAM = "cam-bench"
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
MEDIA = MediaInfo(container="mpegts", codec="h264", width=1920, height=1080, keyframe_start=True, partial=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segments", type=int, default=48, help="number of segments (default 48)")
    ap.add_argument("--size", type=int, default=2_500_000, help="bytes per segment (default 2.5 MB = 10 s at 2 Mbit/s)")
    ap.add_argument("--workers", type=int, default=4, help="verify: objects streamed in parallel (default 4)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per side, best kept (default 3)")
    args = ap.parse_args()

    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        print("sha256sum not found", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    try:
        with EmbeddedSeaweed(tmp / "store") as weed:
            creds = weed.credentials
            store = S3Store(weed.endpoint, creds.access_key, creds.secret_key, secure=False, region=weed.region)
            for b in ("bench-media", "bench-logs"):
                store.ensure_bucket(b, object_lock=True)
            engine = make_engine(f"sqlite:///{tmp / 'catalog.sqlite3'}")
            upgrade(engine)
            settings = LedgerSettings(media_bucket="bench-media", log_bucket="bench-logs",
                                      log_retention=timedelta(days=1))  # fmt: skip
            ledger = Ledger(engine, store, SecretBox.from_key_file(tmp / "credentials.key"), settings,
                            claims=claiming_writer(engine))

            files = tmp / "files"
            files.mkdir()
            total = 0
            for i in range(args.segments):
                body = hashlib.shake_256(i.to_bytes(8, "big")).digest(args.size)
                (files / f"{i:06d}.ts").write_bytes(body)
                put = store.put_bytes("bench-media", f"{CAM}/{i:012d}.ts", body)
                start = T0 + timedelta(seconds=10 * i)
                ledger.append_segment(CAM, SegmentFacts(
                    object_key=put.key, version_id=put.version_id, sha256=hashlib.sha256(body).hexdigest(),
                    size=len(body), start=start, end=start + timedelta(seconds=10), duration_us=10_000_000,
                    media=MEDIA))  # fmt: skip
                total += len(body)
            ledger.checkpoint(CAM)
            paths = sorted(str(p) for p in files.iterdir())
            subprocess.run([sha256sum, *paths], check=True, capture_output=True)  # warm the page cache

            t_verify: list[float] = []
            t_sum: list[float] = []
            t_lib: list[float] = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                report = verify_camera(ledger, CAM, workers=args.workers)
                t_verify.append(time.perf_counter() - t)
                if not report.ok or report.bytes_hashed != total:
                    print("\n".join(report.lines()), file=sys.stderr)
                    return 1
                t = time.perf_counter()
                subprocess.run([sha256sum, *paths], check=True, capture_output=True)
                t_sum.append(time.perf_counter() - t)
                t = time.perf_counter()
                for p in paths:
                    with open(p, "rb") as fh:
                        hashlib.file_digest(fh, "sha256")
                t_lib.append(time.perf_counter() - t)
            engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    mb = total / 1e6
    v, s = min(t_verify), min(t_sum)
    print(f"data: {args.segments} segments x {args.size} bytes = {mb:.1f} MB; cpus: {os.cpu_count()}; "
          f"verify workers: {args.workers}")  # fmt: skip
    print(f"verify camera (S3 GET by version + SHA-256 + log checks): {v:.3f} s = {mb / v:7.1f} MB/s "
          f"(rounds: {', '.join(f'{x:.3f}' for x in t_verify)})")  # fmt: skip
    print(f"sha256sum of the same bytes (local files, page cache):    {s:.3f} s = {mb / s:7.1f} MB/s "
          f"(rounds: {', '.join(f'{x:.3f}' for x in t_sum)})")  # fmt: skip
    lib = min(t_lib)
    print(f"for reference, hashlib.file_digest, one thread (OpenSSL): {lib:.3f} s = {mb / lib:7.1f} MB/s")
    ratio = s / v
    print(f"ratio verify/sha256sum throughput: {ratio:.2f}x (target >= 0.70x): {'OK' if ratio >= 0.7 else 'BELOW'}")
    print(f"ratio verify/hashlib one thread:   {lib / v:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
