"""Benchmark of archive.integrity: append throughput and range-proof size/cost.

Run: ``.venv/bin/python tests/bench/bench_integrity.py [--entries N] [--year-log N] [--quick]``

1. Appends/s of realistic segment entries through LogWriter.append (envelope, canonical
   encoding, entry hash, leaf hash, incremental tree), with the payloads built beforehand,
   and end to end (building and validating the payload dataclass from ready values too). The baseline is bare
   ``hashlib.sha256`` over the same encoded bytes, measured side by side (absolute numbers
   are noisy on a shared machine: compare the ratio). Target: >= 50,000 appends/s.
2. Range proofs for one hour (360 entries of 10 s) inside a one-year log (3,153,600 entries)
   at several offsets: the size by arithmetic, then real proofs from a tree of real hashes
   (MemoryTree with every perfect node, as a database would keep them), verified against the
   root; plus one proof from leaf hashes only (the O(N) worst case). Target: <= 64 hashes.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from archive.integrity import (
    LogWriter,
    MediaInfo,
    MemoryTree,
    Segment,
    TreeHashes,
    range_proof,
    range_proof_size,
    verify_range_proof,
)

ORIGIN = "cctv.example.org/log/cam-0042"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
MEDIA = MediaInfo(container="mpegts", codec="h264", width=1920, height=1080, keyframe_start=True, partial=False)
YEAR = 3_153_600  # 365 days of 10 s segments
HOUR = 360


def segment_fields(i: int, start: datetime, end: datetime) -> dict[str, object]:
    """The values ingest has at hand for segment ``i`` (computed outside the timed loops)."""
    return {
        "camera": "cam-0042",
        "object_key": f"cam-0042/{start:%Y/%m/%d/%H%M%S}.ts",
        "version_id": f"{i:016x}-3HL4kqtJlcpXroDTDmJ",
        "sha256": hashlib.sha256(i.to_bytes(8, "big")).digest(),
        "size": 2_500_000 + (i * 7919) % 100_000,
        "start": start,
        "end": end,
        "duration_us": 10_000_000 - (i % 3) * 40_000,
        "clock_offset_us": -(i % 500),
        "media": MEDIA,
    }


def best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_appends(n: int, runs: int) -> None:
    times = [T0 + timedelta(microseconds=10_000_000 * k + (k * 37) % 1000) for k in range(n + 1)]
    fields = [segment_fields(i, times[i], times[i + 1]) for i in range(n)]
    payloads = [Segment(**f) for f in fields]  # type: ignore[arg-type]
    data: list[bytes] = []

    def appends() -> None:
        w = LogWriter(ORIGIN)
        data.clear()
        data.extend(w.append(p).data for p in payloads)

    def end_to_end() -> None:
        w = LogWriter(ORIGIN)
        for f in fields:
            w.append(Segment(**f))  # type: ignore[arg-type]

    t_append = best_of(runs, appends)
    sha = hashlib.sha256

    def bare_sha() -> None:
        for d in data:
            sha(d).digest()

    t_sha = best_of(runs, bare_sha)
    t_e2e = best_of(runs, end_to_end)
    avg = sum(map(len, data)) / len(data)
    print(f"== appends: {n:,} segment entries, {avg:.0f} bytes each (best of {runs})")
    print(f"   LogWriter.append (payload prebuilt) : {n / t_append:>10,.0f} entries/s  {t_append / n * 1e6:6.2f} us")
    print(f"   payload built + append (end to end) : {n / t_e2e:>10,.0f} entries/s  {t_e2e / n * 1e6:6.2f} us")
    print(f"   bare hashlib.sha256 of the same bytes: {n / t_sha:>10,.0f} hashes/s   {t_sha / n * 1e6:6.2f} us")
    print(f"   ratio append / bare sha256 = {t_append / t_sha:.1f}x, end to end / bare sha256 = {t_e2e / t_sha:.1f}x")
    verdict = "meets" if n / t_append >= 50_000 else "MISSES"
    print(f"   target >= 50,000 appends/s: {verdict}")


def bench_proofs(size: int, quick: bool) -> None:
    offsets = [0, 1, HOUR - 1, 1_000_000, size // 2, 2_097_151, 2_097_152 - HOUR // 2, size - HOUR]
    offsets = sorted({o for o in offsets if 0 <= o <= size - HOUR})
    print(f"== range proofs: {HOUR} entries (1 h of 10 s segments) in a log of {size:,} entries")
    for lo in offsets:
        print(f"   [{lo:>9,}, {lo + HOUR:>9,}): {range_proof_size(lo, lo + HOUR, size):>2} hashes (arithmetic)")
    worst = max(range_proof_size(lo, lo + HOUR, size) for lo in range(0, size - HOUR + 1, 997))
    print(f"   worst over every 997th offset: {worst} hashes; target <= 64")
    if quick:
        return
    t0 = time.perf_counter()
    tree = MemoryTree()
    sha = hashlib.sha256
    for i in range(size):
        tree.append(sha(b"\x00" + i.to_bytes(8, "big")).digest())
    t_build = time.perf_counter() - t0
    root = tree.root()
    print(f"   built a tree of real hashes with every perfect node in {t_build:.1f} s ({size / t_build:,.0f} leaves/s)")
    for lo in offsets:
        t1 = time.perf_counter()
        proof = range_proof(lo, lo + HOUR, size, tree)
        t_gen = time.perf_counter() - t1
        t2 = time.perf_counter()
        verify_range_proof(lo, tree.leaves(lo, lo + HOUR), size, proof.hashes, root)
        t_ver = time.perf_counter() - t2
        print(
            f"   [{lo:>9,}, {lo + HOUR:>9,}): {len(proof.hashes):>2} hashes, {len(proof.to_json()):,} bytes JSON, "
            f"generated in {t_gen * 1e3:.2f} ms (node store), verified in {t_ver * 1e3:.2f} ms"
        )
    lo = size // 2
    leaves_only = TreeHashes(tree.leaves)  # no node store: O(N) hashing
    t3 = time.perf_counter()
    proof = range_proof(lo, lo + HOUR, size, leaves_only)
    t_leaves = time.perf_counter() - t3
    assert proof == range_proof(lo, lo + HOUR, size, tree)
    print(f"   same proof from leaf hashes only (no stored nodes, O(N) hashing): {t_leaves:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=200_000, help="entries for the append benchmark")
    ap.add_argument("--runs", type=int, default=3, help="repetitions (best is reported)")
    ap.add_argument("--year-log", type=int, default=YEAR, help="size of the log for range proofs")
    ap.add_argument("--quick", action="store_true", help="skip building the year-long tree")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {sys.platform}")
    bench_appends(args.entries, args.runs)
    bench_proofs(args.year_log, args.quick)


if __name__ == "__main__":
    main()
