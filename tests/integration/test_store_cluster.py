"""The replicated SeaweedFS cluster (issue 16 item 4): master + three volume servers on racks r1-r3
(``-defaultReplication=010``) + filer + S3 gateway, each its own ``weed`` process on loopback.

The startup object-lock and bypass probes pass against it with the service identities, and every
object written lands in volumes that have two copies on two racks: as the master reports them
(``volume.list``) and as the volume servers' data files on disk show (same size on both racks)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from archive.storage.bypass_probe import probe_bypass
from archive.storage.probe import probe_object_lock
from archive.storage.s3 import S3Store
from archive.storage.seaweed_cluster import RACKS, SeaweedCluster
from tests.fixtures.s3 import service_store_for, store_for
from tests.fixtures.seaweed_cluster import CLUSTER_BUCKETS

EMPTY_DAT = 8  # a SeaweedFS volume data file holds an 8-byte super block before any needle


def test_every_server_is_its_own_weed_process(seaweed_cluster: SeaweedCluster) -> None:
    pids = seaweed_cluster.pids()
    assert set(pids) == {"master", "filer", "s3", *(f"volume-{r}" for r in RACKS)}, pids
    assert len(set(pids.values())) == len(pids)
    assert seaweed_cluster.running and all(seaweed_cluster.status().values())
    racks = {c[0] for v in seaweed_cluster.volume_copies() for c in v.copies}
    assert racks == set(RACKS), racks  # the warm-up writes already placed volumes on every rack


def test_object_lock_and_bypass_probes_pass(seaweed_cluster: SeaweedCluster) -> None:
    media = CLUSTER_BUCKETS[0]
    ingest = service_store_for(seaweed_cluster)
    result = probe_object_lock(ingest, media)
    assert result.ok, result.checks
    retention = service_store_for(seaweed_cluster, retention=True)
    for name, store in (("archive-ingest", ingest), ("archive-retention", retention)):
        bypass = probe_bypass(store, media, identity=name)
        assert bypass.refused and not bypass.can_bypass, bypass


def assert_two_copies_on_two_racks(cluster: SeaweedCluster, bucket: str, written: int) -> None:
    """Every volume of ``bucket`` has two copies on different racks (master's view), and the data
    files of each volume that took writes have the same size on both racks (the disks' view)."""
    vols = cluster.volume_copies(bucket)
    assert vols, f"the master knows no volume of {bucket}"
    for v in vols:
        assert v.placement == "010", v
        assert len(v.racks) == 2 and len(set(v.racks)) == 2, v
    sizes = cluster.copy_sizes(bucket)
    used = {vid: by_rack for vid, by_rack in sizes.items() if max(by_rack.values()) > EMPTY_DAT}
    assert used, sizes
    for vid, by_rack in used.items():
        assert len(by_rack) == 2 and len(set(by_rack.values())) == 1, (vid, by_rack)
        assert set(by_rack) == set(next(v.racks for v in vols if v.volume_id == vid)), (vid, by_rack)
    stored_once = sum(next(iter(by_rack.values())) for by_rack in used.values())
    assert stored_once >= written, (stored_once, written)


def test_each_new_object_is_stored_twice_on_two_racks(seaweed_cluster: SeaweedCluster) -> None:
    bucket = f"c-{uuid.uuid4().hex[:16]}"
    store_for(seaweed_cluster).ensure_bucket(bucket, object_lock=True)
    store = service_store_for(seaweed_cluster)
    blobs = {f"seg/{i:03d}.ts": os.urandom(150_000 + i) for i in range(24)}
    for key, data in blobs.items():
        store.put_bytes(bucket, key, data)
    for key, data in blobs.items():
        assert store.get_bytes(bucket, key) == data
    assert_two_copies_on_two_racks(seaweed_cluster, bucket, sum(len(d) for d in blobs.values()))


def test_ops_script_starts_reports_and_stops_a_cluster(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "ops" / "seaweed-cluster.sh"
    env = {**os.environ, "CLUSTER_PYTHON": sys.executable}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=120, check=False)

    data = tmp_path / "c"
    started = run("start", str(data), "--buckets", "ops-media")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = run("status", str(data))
        assert status.returncode == 0 and status.stdout.count("running") == 6, status.stdout
        cluster = SeaweedCluster(data)  # the adapter reads the running cluster's state
        creds = cluster.credentials
        assert creds.secret_key not in started.stdout + status.stdout
        store = S3Store(cluster.endpoint, creds.access_key, creds.secret_key, secure=False)
        store.put_bytes("ops-media", "k", b"v")
        assert store.get_bytes("ops-media", "k") == b"v"
        assert (data.stat().st_mode & 0o777, (data / "s3.json").stat().st_mode & 0o777) == (0o700, 0o600)
    finally:
        stopped = run("stop", str(data))
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    after = run("status", str(data))
    assert after.returncode == 1 and "no SeaweedFS cluster runs" in after.stdout, after.stdout
    bad = run("start", str(data), "--replication", "2")
    assert bad.returncode == 2 and "three digits" in bad.stderr, bad.stderr
