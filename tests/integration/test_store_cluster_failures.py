"""Volume-server failures of the replicated cluster, for real (issue 16, failures): ``kill -9`` of
one volume server while the archive's own store adapter (:class:`S3Store`) writes and reads.

With ``-defaultReplication=010`` not one read or write fails during the kill; the same run on a
cluster without replication (``000``) fails reads of the objects the dead server held: the
measurement can fail, and replication is what makes it pass."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from archive.errors import StorageError
from archive.storage.s3 import S3Store
from archive.storage.seaweed_cluster import SeaweedCluster
from tests.fixtures.s3 import service_store_for, store_for
from tests.fixtures.seaweed_cluster import ClusterFactory

OBJECTS = 20
SIZE = 150_000
KILL_SECONDS = 20.0


def _fill(cluster: SeaweedCluster) -> tuple[S3Store, str, dict[str, bytes]]:
    bucket = f"k-{uuid.uuid4().hex[:16]}"
    store_for(cluster).ensure_bucket(bucket, object_lock=True)
    store = service_store_for(cluster)
    blobs = {f"pre/{i:03d}": os.urandom(SIZE) for i in range(OBJECTS)}
    for key, data in blobs.items():
        store.put_bytes(bucket, key, data)
    return store, bucket, blobs


def _busiest_rack(cluster: SeaweedCluster, bucket: str) -> str:
    """The rack whose disk holds the most bytes of ``bucket``: the worst one to lose."""
    held = dict.fromkeys(cluster.racks, 0)
    for by_rack in cluster.copy_sizes(bucket).values():
        for rack, size in by_rack.items():
            held[rack] += size
    return max(held, key=lambda r: held[r])


def _round(store: S3Store, bucket: str, blobs: dict[str, bytes], n: int) -> list[tuple[str, bool | Exception]]:
    """Put a new object, read it back, read an older one: (what, True / False for wrong bytes / the error)."""
    data, old = os.urandom(SIZE), f"pre/{n % OBJECTS:03d}"
    out: list[tuple[str, bool | Exception]] = []
    try:
        store.put_bytes(bucket, f"new/{n}", data)
        out.append((f"put new/{n}", True))
        out.append((f"get new/{n}", store.get_bytes(bucket, f"new/{n}") == data))
    except StorageError as exc:
        out.append((f"put/get new/{n}", exc))
    try:
        out.append((f"get {old}", store.get_bytes(bucket, old) == blobs[old]))
    except StorageError as exc:
        out.append((f"get {old}", exc))
    return out


def _exercise(store: S3Store, bucket: str, blobs: dict[str, bytes], seconds: float) -> tuple[int, list[str]]:
    """:func:`_round` again and again for ``seconds``: (operations that worked, one line per failure)."""
    done, failed, n = 0, [], 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        n += 1
        for what, result in _round(store, bucket, blobs, n):
            if result is True:
                done += 1
            else:
                failed.append(f"{time.monotonic() - began:5.1f} s {what}: {result or 'wrong bytes'}")
    return done, failed


@pytest.mark.slow
def test_one_volume_server_killed_no_read_or_write_fails(seaweed_cluster: SeaweedCluster) -> None:
    store, bucket, blobs = _fill(seaweed_cluster)
    victim = f"volume-{_busiest_rack(seaweed_cluster, bucket)}"
    seaweed_cluster.kill_process(victim)
    try:
        assert not seaweed_cluster.status()[victim]
        done, failed = _exercise(store, bucket, blobs, KILL_SECONDS)
        unreadable = [k for k, d in blobs.items() if store.get_bytes(bucket, k) != d]
    finally:
        seaweed_cluster.restart_process(victim)
    print(f"{victim} killed: {done} operations in {KILL_SECONDS:g} s, {len(failed)} failed")
    assert not failed, failed[:5]
    assert not unreadable
    assert done >= 60, done  # at least 20 rounds of put + get + get in the 20 s
    assert seaweed_cluster.running


@pytest.mark.slow
def test_without_replication_a_volume_server_kill_fails_reads(cluster_factory: ClusterFactory) -> None:
    single = cluster_factory(replication="000")
    store, bucket, blobs = _fill(single)
    assert all(len(v.copies) == 1 for v in single.volume_copies(bucket))  # one copy: no rack to spare
    single.kill_process(f"volume-{_busiest_rack(single, bucket)}")
    lost = []
    for key, data in blobs.items():
        try:
            store.get_bytes(bucket, key) == data  # noqa: B015 - only whether it can be read counts
        except StorageError as exc:
            lost.append(f"{key}: {exc}")
    print(f"without replication: {len(lost)} of {OBJECTS} objects unreadable after the kill")
    assert lost, "every object stayed readable although its only copy's server was killed"
