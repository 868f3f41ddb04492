"""Benchmark of sealing the audit trail: one signed head per audited request (SPEC.md 7.6).

Run: ``.venv/bin/python tests/bench/bench_audit_seal.py [--db sqlite|postgres|both] [--records 300]``

Records ``--records`` audit entries one after another (each :meth:`AuditTrail.record` commits and
seals: reads the last signed head, proves the new tree extends it, signs, publishes three
COMPLIANCE objects to a real embedded SeaweedFS) in two modes, interleaved in rounds of 25 so
that both see the same machine load:

- ``proofs``: the signer forgets the edge it kept before every seal, so each seal proves the
  extension with a consistency proof and a range proof over the stored tree nodes (what every
  seal did before the kept edge, and what a signer does after a head signed by another process);
- ``kept edge``: the signer extends the edge of the head it signed itself (archive/audit/signer.py).

Prints per-record milliseconds (p50, p99) per mode and the ratio kept/proofs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.audit.entry import AuditRecord
from archive.storage.seaweed import EmbeddedSeaweed
from tests.bench.catalogs import bench_catalog, databases
from tests.fixtures.s3 import store_for
from tests.integration import export_support as xs

ROUND = 25


def _rec(i: int) -> AuditRecord:
    return AuditRecord(at_us=time.time_ns() // 1000, ip="10.0.0.7", action="cameras.list", method="GET",
                       path="/api/v1/cameras", status=200, actor="inv1", detail={"i": i})  # fmt: skip


def _pct(xs_: list[float], q: float) -> float:
    s = sorted(xs_)
    return s[min(len(s) - 1, int(q * len(s)))]


def run(url: str, store: object, tmp: Path, records: int) -> dict[str, list[float]]:
    env = xs.make_env(url, store, tmp, working_copy=False)  # type: ignore[arg-type]
    trail, signer = env.audit, env.audit.signer
    assert signer is not None
    times: dict[str, list[float]] = {"proofs": [], "kept edge": []}
    for i in range(20):  # warm up: a tree of some depth, connections, the key ring
        trail.record(_rec(i))
    n = 0
    while n < records:
        for mode in ("proofs", "kept edge"):
            for _ in range(ROUND):
                if mode == "proofs":
                    signer._proved = None
                t = time.perf_counter()
                trail.record(_rec(n))
                times[mode].append((time.perf_counter() - t) * 1000)
                n += 1
    assert trail.verify().ok
    env.engine.dispose()  # type: ignore[attr-defined]
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--records", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-seal-"))
    with EmbeddedSeaweed(tmp / "seaweed", volume_size_limit_mb=64, keep_admin=True) as sw:
        store = store_for(sw)
        for db in databases(args.db):
            with bench_catalog(db, tmp, "bench_seal") as (schema, url):
                times = run(url, store, tmp / schema, args.records)
            p, k = times["proofs"], times["kept edge"]
            print(f"{db:9s} records {len(p) + len(k)}: proofs p50 {statistics.median(p):6.2f} ms p99 "
                  f"{_pct(p, 0.99):6.2f} | kept edge p50 {statistics.median(k):6.2f} ms p99 {_pct(k, 0.99):6.2f} | "
                  f"ratio kept/proofs p50 {statistics.median(k) / statistics.median(p):.2f} "
                  f"mean {statistics.mean(k) / statistics.mean(p):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
