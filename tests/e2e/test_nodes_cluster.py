"""Recorder nodes on the replicated SeaweedFS cluster (issue 16), for real: two ``archive up --node``
processes on one PostgreSQL catalog (fresh schema) recording four simulated RTSP cameras onto the
``seaweed_cluster`` fixture (master, three volume servers on racks r1-r3 with replication 010, filer,
S3 gateway), 2 s segments, 6 s leases.

1. ``kill -9`` of one volume server: no write fails (no ingest failure counted by either node), no
   gap is logged, every camera keeps logging segments;
2. ``kill -9`` of a second one: every write fails (010 needs two racks); both nodes keep the
   segments in their spools and say so: ``archive status`` ``PROBLEM: object store unreachable``,
   the storage check of ``/health`` not ok;
3. both started again: everything drains (spools empty but for the file ffmpeg writes), no gap was
   logged for any of it, ``archive verify camera`` passes for every camera.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from archive.sim.cameras import SimulatedCameraSet
from archive.storage.seaweed_cluster import SeaweedCluster
from tests.e2e.test_nodes_failover import Node, _balanced, _config, _gaps, _segments, _wait
from tests.e2e.test_one_writer import _cli
from tests.e2e.test_status_health import get_health
from tests.fixtures.cameras import dishub_listing
from tests.fixtures.s3 import service_store_for

NODES = ("n1", "n2")
CAMERAS = 4


def _ingest(cfg_dir: Path, node: str) -> dict[str, dict[str, int]]:
    """camera -> its ingest counters in the node's status file."""
    try:
        data = json.loads((cfg_dir / f"var-{node}" / "run" / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return {str(c["camera_id"]): c["ingest"] for c in data.get("cameras", [])}


def _spooled(cfg_dir: Path, node: str) -> int:
    return len(list((cfg_dir / f"var-{node}" / "spool").glob("*/*.ts")))


def _storage_ok(cfg: Path) -> bool:
    port = int(re.search(r"port = (\d+)", cfg.read_text()).group(1))  # type: ignore[union-attr]
    _, health = get_health(port, "/health")
    (check,) = [c for c in health["checks"] if c["name"] == "storage"]  # type: ignore[union-attr]
    return bool(check["ok"])


@pytest.mark.slow
@pytest.mark.postgres
def test_nodes_on_the_replicated_cluster(seaweed_cluster: SeaweedCluster, pg_catalog_url: str,
                                         tmp_path: Path) -> None:  # fmt: skip
    tag = uuid.uuid4().hex[:10]
    media, logs = f"nc-media-{tag}", f"nc-logs-{tag}"
    service_store_for(seaweed_cluster, media, logs)
    cfgs = {n: _config(tmp_path / f"{n}.toml", n, pg_catalog_url, seaweed_cluster, media, logs)  # type: ignore[arg-type]
            for n in NODES}  # fmt: skip
    engine = create_engine(pg_catalog_url)
    nodes = {n: Node(n, cfgs[n]) for n in NODES}
    cams = [f"dishub-{i:03d}" for i in range(1, CAMERAS + 1)]
    with SimulatedCameraSet(CAMERAS, ["h264"]) as sims:
        listing = dishub_listing(tmp_path / "cameras.yaml", cams, sims.urls)
        imported = _cli(cfgs["n1"], "cameras", "import", str(listing))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        try:
            for n in NODES:
                nodes[n].start()
            running = list(nodes.values())
            _wait("a balanced assignment", lambda: _balanced(engine, cams, NODES), 120, running)
            _wait("every camera to record", lambda: all(len(_segments(engine, c)) >= 2 for c in cams), 60, running)
            _wait("both nodes to publish their cameras",
                  lambda: sum(len(_ingest(tmp_path, n)) for n in NODES) == CAMERAS, 30, running)  # fmt: skip
            failures = {n: {c: i["failures"] for c, i in _ingest(tmp_path, n).items()} for n in NODES}
            gaps_before = {c: len(_gaps(engine, c)) for c in cams}

            # 1. one volume server down: replication 010 still has two racks
            seaweed_cluster.kill_process("volume-r1")
            one_down_us = time.time_ns() // 1000
            time.sleep(14)
            assert all(any(s >= one_down_us for s, _, _ in _segments(engine, c)) for c in cams)
            now_failures = {n: {c: i["failures"] for c, i in _ingest(tmp_path, n).items()} for n in NODES}
            assert now_failures == failures, (failures, now_failures)
            assert {c: len(_gaps(engine, c)) for c in cams} == gaps_before
            print(f"one volume server down 14 s: {sum(len(_segments(engine, c)) for c in cams)} segments, "
                  "no failed write, no gap")  # fmt: skip

            # 2. a second one down: writes fail, the nodes spool and say so
            seaweed_cluster.kill_process("volume-r2")
            two_down = time.monotonic()

            def says_unreachable(n: str) -> bool:
                out = _cli(cfgs[n], "status").stdout
                return "PROBLEM: object store unreachable" in out

            _wait("both nodes to report the store unreachable", lambda: all(says_unreachable(n) for n in NODES),
                  90, running)  # fmt: skip
            _wait("both nodes' /health storage checks not ok", lambda: not any(_storage_ok(cfgs[n]) for n in NODES),
                  30, running)  # fmt: skip
            spooled = {n: _spooled(tmp_path, n) for n in NODES}
            print(f"two volume servers down: reported after {time.monotonic() - two_down:.1f} s, spooled {spooled}")
            assert all(v >= 2 for v in spooled.values()), spooled

            # 3. both back: everything drains
            seaweed_cluster.restart_process("volume-r1")
            seaweed_cluster.restart_process("volume-r2")
            back, back_us = time.monotonic(), time.time_ns() // 1000
            _wait("the spools to drain", lambda: all(_spooled(tmp_path, n) <= CAMERAS for n in NODES)
                  and all(_storage_ok(cfgs[n]) for n in NODES), 150, running)  # fmt: skip
            print(f"drained {time.monotonic() - back:.1f} s after the volume servers were back")
            time.sleep(4)
        finally:
            codes = {n: nodes[n].stop() for n in NODES}
            for n in NODES:
                nodes[n].end_group()
    for n in NODES:
        out = nodes[n].log()
        assert "Traceback" not in out, out[-6000:]
        assert codes[n] == 0, (n, codes[n], out[-4000:])
    for c in cams:
        during = [g for g in _gaps(engine, c) if g[0] < back_us and g[1] > one_down_us]
        assert not during, (c, during)  # the outage's time is covered by the segments the spools kept
        verified = _cli(cfgs["n1"], "verify", "camera", c, timeout=180)
        assert verified.returncode == 0 and f"OK: camera {c}" in verified.stdout, verified.stdout + verified.stderr
    engine.dispose()
