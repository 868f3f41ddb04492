"""Benchmark: sequential audited records, one signed head each vs the local journal (SPEC.md 7.6).

Run: ``.venv/bin/python tests/bench/bench_audit_journal.py [--db sqlite|postgres|both] [--records 300]``

Two trails over the same catalog and real embedded SeaweedFS, interleaved in rounds of 25:

- ``head``: no journal, every :meth:`AuditTrail.record` signs and publishes a head (3 COMPLIANCE
  objects) before it returns (the scheme before the journal; the kept edge is used);
- ``journal``: every record fsyncs its hash to ``audit/journal`` before it returns; a head is
  signed only by the checkpointer (one :meth:`AuditCheckpointer.run_once` per round here).

Prints per-record milliseconds (p50, p99) and log-bucket objects put per record for each mode.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.audit.entry import AuditRecord
from archive.audit.service import AuditTrail
from archive.storage.seaweed import EmbeddedSeaweed
from tests.bench.catalogs import bench_catalog, databases
from tests.fixtures.s3 import store_for
from tests.integration import export_support as xs

ROUND = 25


class _Counting:
    """Counts put_bytes calls of the wrapped store."""

    def __init__(self, store: Any) -> None:
        self._store, self.puts = store, 0

    def put_bytes(self, *a: Any, **k: Any) -> Any:
        self.puts += 1
        return self._store.put_bytes(*a, **k)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _rec(i: int) -> AuditRecord:
    return AuditRecord(at_us=time.time_ns() // 1000, ip="10.0.0.7", action="cameras.list", method="GET",
                       path="/api/v1/cameras", status=200, actor="inv1", detail={"i": i})  # fmt: skip


def _pct(v: list[float], q: float) -> float:
    s = sorted(v)
    return s[min(len(s) - 1, int(q * len(s)))]


def run(url: str, store: Any, tmp: Path, records: int) -> dict[str, tuple[list[float], int]]:
    env = xs.make_env(url, store, tmp, working_copy=False)
    counting = _Counting(store)
    prefix = env.audit.origin[: -len("/audit")]
    trails = {mode: AuditTrail(env.engine, env.ledger.audit_keys, counting, origin_prefix=prefix,  # type: ignore[arg-type]
                               log_bucket=env.ledger.settings.log_bucket, retention=timedelta(days=1),
                               journal=tmp / "audit" / "journal" if mode == "journal" else None)
              for mode in ("head", "journal")}  # fmt: skip
    checkpointer = trails["journal"].checkpointer(1)
    out: dict[str, tuple[list[float], int]] = {}
    times: dict[str, list[float]] = {"head": [], "journal": []}
    puts = {"head": 0, "journal": 0}
    for i in range(20):
        trails["head"].record(_rec(i))
    n = 0
    while n < records:
        for mode in ("head", "journal"):
            before = counting.puts
            for _ in range(ROUND):
                t = time.perf_counter()
                trails[mode].record(_rec(n))
                times[mode].append((time.perf_counter() - t) * 1000)
                n += 1
            if mode == "journal":
                checkpointer.run_once()  # what the periodic checkpointer does once per interval
            puts[mode] += counting.puts - before
    assert trails["head"].verify().ok and trails["journal"].verify().ok
    env.engine.dispose()
    for mode in times:
        out[mode] = (times[mode], puts[mode])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--records", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-journal-"))
    with EmbeddedSeaweed(tmp / "seaweed", volume_size_limit_mb=64, keep_admin=True) as sw:
        store = store_for(sw)
        for db in databases(args.db):
            with bench_catalog(db, tmp, "bench_journal") as (schema, url):
                res = run(url, store, tmp / schema, args.records)
            parts = []
            for mode, (t, puts) in res.items():
                parts.append(f"{mode}: p50 {statistics.median(t):6.2f} ms p99 {_pct(t, 0.99):6.2f} ms, "
                             f"{puts / len(t):.3f} objects/record")  # fmt: skip
            print(f"{db:9s} records {sum(len(t) for t, _ in res.values())} | " + " | ".join(parts))


if __name__ == "__main__":
    main()
