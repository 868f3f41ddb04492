"""CPU of one recorder node's lease work at 200 cameras (issue 16 target: <= 1 % of a core).

One process on a fresh schema of the test PostgreSQL: a :class:`~archive.ledger.membership.NodeMember`
(heartbeat every ``renew_every_s``), its :class:`~archive.ledger.writers.WriterClaims` renewing every
held claim every ``renew_every_s``, and the node's look every 0.5 s (``NODE_LOOK_S``: every claim
row and node read, :meth:`NodeMember.mine` over the cameras), with the production defaults (15 s
lease, 5 s renewal). Measured side by side, in this order: the same work for 1 camera (the
baseline), then 200 cameras; the CPU of the claims themselves (taking 200 first claims) apart.
CPU is this process's (all threads; the database server's is not counted), over ``--seconds``.

    .venv/bin/python tests/bench/bench_node_leases.py --cameras 200 --seconds 30
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.cli.follow import NODE_LOOK_S
from archive.ledger.membership import NodeMember, node_holder
from archive.ledger.writers import WriterClaims
from archive.node_config import NodeConfig
from tests.fixtures.catalog import pg_schema


def run(url: str, name: str, n: int, seconds: float) -> tuple[float, float]:
    """(claim CPU-s for ``n`` first claims, fraction of a core over ``seconds`` of renewals and looks)."""
    engine = make_engine(url)
    config = NodeConfig(name=name, capacity=1.0, lease_ttl_s=15.0, renew_every_s=5.0)
    claims = WriterClaims(engine, holder=node_holder(name), ttl_s=config.lease_ttl_s, renew_s=config.renew_every_s)
    member = NodeMember(engine, config, claims.holder, "127.0.0.1:0")
    member.register()
    cams = [f"{name}-cam-{i:04d}" for i in range(n)]
    t0 = time.process_time()
    for c in cams:
        claims.claim(c)
    claim_cpu = time.process_time() - t0
    member.start()
    claims.start_renewing()
    wanted, recording = set(cams), set(cams)
    t0, w0 = time.process_time(), time.monotonic()
    while time.monotonic() - w0 < seconds:
        member.mine(wanted, recording, member.claims())
        time.sleep(NODE_LOOK_S)
    used = (time.process_time() - t0) / (time.monotonic() - w0)
    claims.release_all()
    member.stop()
    engine.dispose()
    return claim_cpu, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    print(f"bench_node_leases: {args.cameras} cameras, {args.seconds:g} s each, machine {os.cpu_count()} cores, "
          f"load {os.getloadavg()}", flush=True)  # fmt: skip
    with pg_schema() as url:
        upgrade(make_engine(url))
        base_claim, base = run(url, "bench-base", 1, args.seconds)
        claim, used = run(url, "bench-node", args.cameras, args.seconds)
    print(f"baseline (1 camera):  {base * 100:.3f} % of a core (first claim {base_claim * 1000:.1f} ms CPU)")
    print(f"{args.cameras} cameras:          {used * 100:.3f} % of a core (first claims {claim * 1000:.0f} ms CPU, "
          f"{claim / args.cameras * 1000:.2f} ms each)")  # fmt: skip
    print(f"ratio {args.cameras} / 1 camera: {used / base:.2f}x; target <= 1 % of a core: "
          f"{'met' if used <= 0.01 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
