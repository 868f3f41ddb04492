"""Recorder nodes while their PostgreSQL catalog restarts (issue 16), for real: two ``archive up
--node`` processes on a private PostgreSQL server of the test's own (``private_pg``: the machine's
shared one is never restarted), the real SeaweedFS, four simulated RTSP cameras, 2 s segments, 6 s
leases renewed every 2 s.

Mid-run the server is stopped (fast: every session ended), kept down, and started again, twice:

1. a short outage (down 2.5 s + stop and start, less than the lease minus one renewal period): the nodes keep
   recording into their spools (no node exits) and catch up; no lease changes holder (heartbeats
   and renewals that failed are retried every 0.5 s, so the first look of a node after the restart
   finds the other live) and the outage leaves no gap: it is covered by the segments recorded then;
2. a long one (down 10 s, beyond the lease): every lease expired in the catalog meanwhile, but a
   node takes nothing new for one renewal period after the catalog answers it again
   (``NodeMember.recovering``), so each renews its own leases (same holder and epoch) first: no
   lease changes holder either, every camera catches up.

Afterwards, from the catalog and the logs: no lease was held by two nodes at once (per camera, the
writer-claim epochs of its segments never go back: no interleaving), no two entries of a camera's
log share an instant, ``archive verify camera`` passes for every camera and ``archive verify log``
finds no fork.
"""

from __future__ import annotations

import itertools
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from archive.sim.cameras import SimulatedCameraSet
from archive.storage.seaweed import EmbeddedSeaweed
from tests.e2e.test_nodes_failover import Node, _balanced, _config, _gaps, _holders, _segments, _wait
from tests.e2e.test_one_writer import _cli
from tests.fixtures.cameras import dishub_listing
from tests.fixtures.private_pg import PrivatePostgres
from tests.fixtures.s3 import service_store_for

NODES = ("n1", "n2")
CAMERAS = 4
SHORT_DOWN_S = 2.5  # + ~0.3 s stop and start: below the lease (6 s) minus one renewal period (2 s)
LONG_DOWN_S = 10.0


@pytest.mark.slow
def test_nodes_ride_out_a_catalog_restart(seaweed: EmbeddedSeaweed, private_pg: PrivatePostgres,
                                          tmp_path: Path) -> None:  # fmt: skip
    tag = uuid.uuid4().hex[:10]
    media, logs = f"pr-media-{tag}", f"pr-logs-{tag}"
    service_store_for(seaweed, media, logs)
    cfgs = {n: _config(tmp_path / f"{n}.toml", n, private_pg.url, seaweed, media, logs) for n in NODES}
    engine = create_engine(private_pg.url, pool_pre_ping=True)
    nodes = {n: Node(n, cfgs[n]) for n in NODES}
    cams = [f"dishub-{i:03d}" for i in range(1, CAMERAS + 1)]

    def outage(down_s: float) -> tuple[int, int]:
        """Restart the server, down ``down_s``; wait until every camera logged a segment recorded after it."""
        engine.dispose()
        stopped_at_us = time.time_ns() // 1000
        took = private_pg.restart(down_s)
        back_us = time.time_ns() // 1000
        print(f"PostgreSQL stopped, down {down_s:g} s, started: {took:.2f} s without a catalog")
        for n in nodes.values():
            assert n.proc is not None and n.proc.poll() is None, f"{n.name} ended:\n{n.log()[-4000:]}"
        _wait("every camera to log segments recorded after the restart",
              lambda: all(any(s >= back_us for s, _, _ in _segments(engine, c)) for c in cams), 90,
              list(nodes.values()))  # fmt: skip
        return stopped_at_us, back_us

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
            held = _holders(engine)
            stopped_at_us, back_us = outage(SHORT_DOWN_S)
            short = (stopped_at_us, back_us)
            _wait("a balanced assignment again", lambda: _balanced(engine, cams, NODES), 60, running)
            assert _holders(engine) == held, "a lease changed holder over a catalog outage shorter than the lease"
            for c in cams:
                segs = _segments(engine, c)
                assert {e for _, _, e in segs} == {held[c][1]}, (c, segs)
                holes = [g for g in _gaps(engine, c) if g[0] < back_us and g[1] > stopped_at_us]
                assert not holes, (c, holes)
                during = sum(1 for a, b, _ in segs if a < back_us and b > stopped_at_us)
                print(f"camera {c}: recorded through the short outage by {held[c][0]}: {during} segments, no gap")
            stopped_at_us, back_us = outage(LONG_DOWN_S)
            _wait("a balanced assignment again", lambda: _balanced(engine, cams, NODES), 90, running)
            time.sleep(4)
            assert _holders(engine) == held, "a lease changed holder over the long catalog outage"
        finally:
            codes = {n: nodes[n].stop() for n in NODES}
            for n in NODES:
                nodes[n].end_group()
    for n in NODES:
        out = nodes[n].log()
        assert "Traceback" not in out, out[-6000:]
        assert codes[n] == 0, (n, codes[n], out[-4000:])
    for c in cams:
        segs = _segments(engine, c)
        epochs = [e for _, _, e in segs]
        assert epochs == sorted(epochs), (c, epochs)  # one holder at a time: its epochs never interleave
        assert not [g for g in _gaps(engine, c) if g[0] < short[1] and g[1] > short[0]], c
        during = [(a, b) for a, b, _ in segs if a < back_us and b > stopped_at_us]
        gaps = [g for g in _gaps(engine, c) if g[0] < back_us and g[1] > stopped_at_us]
        said = [(g[2], round((g[1] - g[0]) / 1e6, 2), g[3][:80]) for g in gaps]
        print(f"camera {c}: {len(during)} segments overlap the outage, {len(gaps)} gaps {said}; "
              f"epochs {sorted(set(epochs))}")  # fmt: skip
        spans = sorted([(a, b) for a, b, _ in segs] + [(a, b) for a, b, _, _ in _gaps(engine, c)])
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans)), (c, spans)
        verified = _cli(cfgs["n1"], "verify", "camera", c)
        assert verified.returncode == 0 and f"OK: camera {c}" in verified.stdout, verified.stdout + verified.stderr
    consistent = _cli(cfgs["n1"], "verify", "log")
    assert consistent.returncode == 0, consistent.stdout + consistent.stderr
    engine.dispose()
