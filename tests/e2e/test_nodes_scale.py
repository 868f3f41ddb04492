"""36 simulated cameras on 3 recorder nodes (issue 16), for real: three ``archive up --node``
processes on one PostgreSQL catalog (fresh schema) and the real SeaweedFS, 36 cameras of the lite
bulk simulator (:class:`archive.sim.bulk.BulkCameraSet`: one RTSP server process, real H.264),
2 s segments, 6 s leases renewed every 2 s.

(a) capacities 1, 1, 1: every camera held by exactly one node, each node within one camera of its
    weighted share (12);
(b) n3 restarted with capacity 2: the shares become 9, 9, 18 and the nodes get there by handover;
(c) ``kill -9`` of n3: its 18 cameras are recorded again by n1 and n2 (18 each), with exactly one
    ``recorder_failover`` gap per moved camera, from n3's last logged segment end to the new
    holder's first segment start (no segment inside it), each shorter than TTL + 5 s + a segment.
No two entries of any camera's log overlap.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from archive.ledger.rendezvous import shares
from archive.sim.bulk import BulkCameraSet
from archive.storage.seaweed import EmbeddedSeaweed
from tests.e2e.test_nodes_failover import TTL_S, Node, _config, _gaps, _holders, _segments, _wait
from tests.e2e.test_one_writer import _cli
from tests.fixtures.s3 import service_store_for

NODES = ("n1", "n2", "n3")
CAMERAS = 36


def _balanced(engine: Engine, cams: list[str], caps: dict[str, float]) -> bool:
    held = _holders(engine)
    if sorted(held) != sorted(cams):
        return False
    counts = {n: sum(1 for node, _ in held.values() if node == n) for n in caps}
    return all(abs(counts[n] - want) < 1 for n, want in shares(len(cams), caps).items())


def _capacity(cfg: Path, capacity: float) -> None:
    cfg.write_text(cfg.read_text().replace("capacity = 1.0", f"capacity = {capacity}"))


@pytest.mark.slow
@pytest.mark.postgres
def test_36_cameras_on_3_nodes(seaweed: EmbeddedSeaweed, pg_catalog_url: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    media, logs = f"ns-media-{tag}", f"ns-logs-{tag}"
    service_store_for(seaweed, media, logs)
    cfgs = {n: _config(tmp_path / f"{n}.toml", n, pg_catalog_url, seaweed, media, logs) for n in NODES}
    engine = create_engine(pg_catalog_url)
    nodes = {n: Node(n, cfgs[n]) for n in NODES}
    cams = [f"bulk-{i:03d}" for i in range(1, CAMERAS + 1)]
    began = time.monotonic()
    with BulkCameraSet(CAMERAS, "h264", workdir=tmp_path / "sim") as sims:
        listing = tmp_path / "cameras.yaml"
        listing.write_text(
            "owners:\n  - id: bulk\n    name: Bulk\n    kind: government\n    agencies: [police]\ncameras:\n"
            + "".join(
                f"  - id: {c}\n    name: Bulk {c}\n    owner: bulk\n    stream_url: {u}\n"
                "    latitude: -7.47\n    longitude: 112.43\n    location: test\n"
                for c, u in zip(cams, sims.urls, strict=True)
            )
        )
        imported = _cli(cfgs["n1"], "cameras", "import", str(listing))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        try:
            for n in NODES:
                nodes[n].start()
            running = list(nodes.values())
            even = dict.fromkeys(NODES, 1.0)
            _wait("a balanced assignment (1, 1, 1)", lambda: _balanced(engine, cams, even), 90, running)
            print(f"(a) 12/12/12 after {time.monotonic() - began:.1f} s")

            # (b) n3 with capacity 2
            assert nodes["n3"].stop() == 0
            _capacity(cfgs["n3"], 2.0)
            nodes["n3"].start()
            weighted = {"n1": 1.0, "n2": 1.0, "n3": 2.0}
            _wait("a balanced assignment (1, 1, 2)",
                  lambda: _balanced(engine, cams, weighted)
                  and all(_segments(engine, c)[-1][2] == h[1] for c, h in _holders(engine).items()),
                  120, running)  # fmt: skip
            print(f"(b) 9/9/18 after {time.monotonic() - began:.1f} s")
            held = _holders(engine)
            moved = sorted(c for c, (h, _) in held.items() if h == "n3")
            assert len(moved) == 18, held
            old_epoch = {c: held[c][1] for c in moved}

            # (c) kill -9 of n3: n1 and n2 take its 18 cameras
            proc = nodes["n3"].proc
            assert proc is not None
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            survivors = [nodes["n1"], nodes["n2"]]
            _wait("n3's cameras to be recorded again",
                  lambda: all(any(e > old_epoch[c] for _, _, e in _segments(engine, c)) for c in moved)
                  and _balanced(engine, cams, {"n1": 1.0, "n2": 1.0}), 90, survivors)  # fmt: skip
            print(f"(c) 18/18 after {time.monotonic() - began:.1f} s")
            time.sleep(2)
        finally:
            codes = {n: nodes[n].stop() for n in NODES}
            for n in NODES:
                nodes[n].end_group()
    for n in ("n1", "n2"):
        out = nodes[n].log()
        assert "Traceback" not in out, out[-6000:]
        assert codes[n] == 0, (n, codes[n], out[-4000:])
    lengths = []
    for c in cams:
        segs, gaps = _segments(engine, c), _gaps(engine, c)
        failover = [g for g in gaps if g[3].startswith("recorder_failover: ")]
        if c in moved:
            assert len(failover) == 1, (c, failover)
            start, end, _, detail = failover[0]
            assert "node n3 stopped renewing its writer claim" in detail, detail
            assert [ep for _, e, ep in segs if e == start] == [old_epoch[c]], (c, segs)
            assert [ep for s, _, ep in segs if s == end] and min(ep for s, _, ep in segs if s == end) > old_epoch[c]
            assert not [x for x in segs if start < x[1] and x[0] < end]
            lengths.append((end - start) / 1e6)
        else:
            assert not failover, (c, failover)
        spans = sorted([(a, b) for a, b, _ in segs] + [(a, b) for a, b, _, _ in gaps])
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans)), (c, spans)
    print(f"failover gaps of the 18 moved cameras: {min(lengths):.2f}-{max(lengths):.2f} s")
    assert max(lengths) <= TTL_S + 5 + 2, lengths
    engine.dispose()
