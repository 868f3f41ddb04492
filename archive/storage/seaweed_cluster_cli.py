"""``python -m archive.storage.seaweed_cluster_cli start|stop|status DIR``: what
``ops/seaweed-cluster.sh`` runs (:class:`archive.storage.seaweed_cluster.SeaweedCluster`).

``start`` launches the cluster in DIR (its processes keep running after this command returns) and
prints the S3 endpoint; ``stop`` ends it; ``status`` prints each process and exits 1 when one is
not running. Exit 2 with one sentence on bad input; 1 when the cluster cannot start. The service
identities' keys stay in DIR/s3.json (mode 0600): they are never printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from archive.errors import ToolError
from archive.storage.seaweed_cluster import SeaweedCluster

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seaweed-cluster.sh", description="A replicated SeaweedFS cluster on loopback.")
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("dir", help="the cluster's data directory (made mode 0700)")
    p.add_argument("--buckets", default="archive-media,archive-log",
                   help="buckets to make with object lock at the first start (comma-separated)")  # fmt: skip
    p.add_argument("--replication", default="010", help="the master's -defaultReplication (default 010)")
    return p


def _status(cluster: SeaweedCluster) -> int:
    status = cluster.status()
    if not status:
        print(f"no SeaweedFS cluster runs in {cluster.data_dir}")
        return 1
    pids = cluster.pids()
    for name, alive in status.items():
        print(f"{name:10} pid {pids[name]:>7}  {'running' if alive else 'NOT RUNNING'}")
    print(f"s3 endpoint {cluster.endpoint}; master {cluster.master_address} (gRPC +10000, mutual TLS); "
          f"service keys in {cluster.identity_path}")  # fmt: skip
    return 0 if all(status.values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run one action; the exit code (0 ok, 1 failed or not running, 2 bad input)."""
    args = _parser().parse_args(argv)
    buckets = tuple(b.strip() for b in args.buckets.split(",") if b.strip())
    if len(args.replication) != 3 or not args.replication.isdigit():
        print(f"--replication must be three digits such as 010, not {args.replication!r}", file=sys.stderr)
        return 2
    cluster = SeaweedCluster(args.dir, buckets=buckets, replication=args.replication)
    try:
        if args.action == "start":
            cluster.start()
            print(f"SeaweedFS cluster running in {cluster.data_dir}")
            return _status(cluster)
        if args.action == "stop":
            cluster.stop()
            print(f"SeaweedFS cluster in {cluster.data_dir} stopped")
            return 0
        return _status(cluster)
    except ToolError as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
