"""Recorder nodes with failover (issue 16), for real: three ``archive up --node`` processes on one
PostgreSQL catalog (fresh schema) and the real SeaweedFS, six simulated RTSP cameras, 2 s segments,
6 s leases renewed every 2 s.

(a) every camera is held by exactly one node, each node within one camera of its weighted share;
(b) ``kill -9`` of one node: its cameras are recorded again by the others within TTL + 5 s
    (measured and printed), one ``recorder_failover`` gap per moved camera covering exactly the
    time from the dead node's last logged segment end to the new holder's first segment start;
(c) the killed node started again takes its share back (handed over by the others), keeps the
    spool files whose time the log already holds (never logged: that would overlap), and
    ``archive verify camera`` passes for every camera: no fork, no two entries for one instant;
(d) ``SIGSTOP`` of another node past its lease, then ``SIGCONT``: the others took its cameras over,
    its claims are refused (renewal or append: ``is no longer current``), it fences them (ffmpeg
    stopped, nothing appended) and later gets them back by handover; no overlap in any log;
(e) ``archive nodes drain``: the drained node's cameras move to the others by handover, make before
    break: no hole the verifiers' tolerance does not absorb, so no gap entry (measured and printed).
Between (b) and (c), ``archive nodes list``, ``archive status``, ``/health`` and ``/metrics`` of a
live node name the dead one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import Engine, create_engine, text

from archive.ledger.rendezvous import shares
from archive.recorder.ingest import DEFAULT_GAP_TOLERANCE_S
from archive.sim.cameras import SimulatedCameraSet
from archive.storage.seaweed import EmbeddedSeaweed
from tests.e2e.test_one_writer import ARCHIVE, _cli
from tests.fixtures.cameras import dishub_listing
from tests.fixtures.ports import free_port
from tests.fixtures.s3 import service_store_for

NODES = ("n1", "n2", "n3")
VICTIM = "n2"
FROZEN = "n3"
DRAINED = "n1"
CAMERAS = 6
TTL_S = 6.0
_EPOCH = re.compile(r"e(\d+)-\d{6}\.ts$")


def _config(path: Path, node: str, catalog: str, seaweed: EmbeddedSeaweed, media: str, logs: str) -> Path:
    creds = seaweed.credentials
    path.write_text(
        f'[paths]\ndata_dir = "var-{node}"\n'
        f'[catalog]\nurl = "{catalog}"\n'
        f'[secrets]\nkey_file = "{path.parent / "credentials.key"}"\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "{media}"\nlog_bucket = "{logs}"\n'
        f"[recorder]\nsegment_seconds = 2\n[ledger]\ncheckpoint_interval_s = 5\n"
        f"[api]\nport = {free_port()}\n"
        f"[node]\ncapacity = 1.0\nlease_ttl_s = {TTL_S}\nrenew_every_s = 2\n"
    )
    return path


class Node:
    """One ``archive up --node NAME`` process (its own session, so its children can be found)."""

    def __init__(self, name: str, cfg: Path) -> None:
        self.name, self.cfg = name, cfg
        self.log_path = cfg.parent / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[str] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
        self._log = self.log_path.open("a")
        self.proc = subprocess.Popen([str(ARCHIVE), "--config", str(self.cfg), "up", "--node", self.name],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=self.cfg.parent, env=env,
                                     start_new_session=True)  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGINT, wait: float = 90) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(10)
        if self._log is not None:
            self._log.close()
        return rc

    def end_group(self) -> None:
        """Whatever this node's session left (its API child, its guardian): ended by the group id."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def _holders(engine: Engine) -> dict[str, tuple[str, int]]:
    """camera -> (node, epoch) of every live claim."""
    now = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT camera_id, holder, epoch FROM writer_claim WHERE expires_us > {now}"))
        return {str(r[0]): (str(r[1]).partition("@")[0], int(r[2])) for r in rows}


def _segments(engine: Engine, camera: str) -> list[tuple[int, int, int]]:
    """(start_us, end_us, epoch) of the camera's segments, in log order."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT start_us, end_us, object_key FROM segment WHERE camera_id = :c ORDER BY seq"),
                            {"c": camera}).all()  # fmt: skip
    out = []
    for start, end, key in rows:
        m = _EPOCH.search(str(key))
        assert m is not None, key
        out.append((int(start), int(end), int(m.group(1))))
    return out


def _gaps(engine: Engine, camera: str) -> list[tuple[int, int, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT start_us, end_us, reason, detail FROM gap WHERE camera_id = :c ORDER BY seq"),
                            {"c": camera}).all()  # fmt: skip
    return [(int(a), int(b), str(r), str(d)) for a, b, r, d in rows]


def _wait(what: str, until: Callable[[], bool], timeout: float, nodes: list[Node]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until():
            return
        for n in nodes:
            assert n.proc is None or n.proc.poll() is None, f"{n.name} ended:\n{n.log()[-4000:]}"
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n" + "\n".join(n.log()[-3000:] for n in nodes))


def _balanced(engine: Engine, cams: list[str], names: tuple[str, ...]) -> bool:
    held = _holders(engine)
    if sorted(held) != sorted(cams):
        return False
    counts = {n: sum(1 for node, _ in held.values() if node == n) for n in names}
    return all(abs(counts[n] - want) < 1 for n, want in shares(len(cams), dict.fromkeys(names, 1.0)).items())


def _dead_node_is_reported(cfg: Path, engine: Engine) -> None:
    """``archive nodes list``, ``archive status``, ``/health`` and ``/metrics`` of a live node name the dead one."""
    listed = _cli(cfg, "nodes", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {n["name"]: n for n in json.loads(listed.stdout)["nodes"]}
    assert rows[VICTIM]["status"] == "dead" and rows[VICTIM]["cameras"] == []
    assert all(rows[n]["status"] == "running" and len(rows[n]["cameras"]) == 3 for n in NODES if n != VICTIM)
    text_list = _cli(cfg, "nodes", "list").stdout
    with engine.connect() as conn:
        takeovers = int(conn.execute(text("SELECT SUM(epoch - 1) FROM writer_claim")).scalar_one())
    assert takeovers >= 2 and json.loads(listed.stdout)["lease_takeovers"] == takeovers
    assert f"PROBLEM: node {VICTIM} is dead" in text_list and f"lease takeovers so far: {takeovers}" in text_list
    port = int(re.search(r"port = (\d+)", cfg.read_text()).group(1))  # type: ignore[union-attr]

    def reported() -> bool:
        status = _cli(cfg, "status", "--json")
        doc = json.loads(status.stdout) if status.stdout.startswith("{") else {}
        return any(f"node {VICTIM} is dead" in p for p in doc.get("problems", []))

    deadline = time.monotonic() + 15
    while not reported():  # the status file is written every 5 s
        assert time.monotonic() < deadline, _cli(cfg, "status").stdout
        time.sleep(1)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
        health = json.loads(answer.read())
    (nodes_check,) = [c for c in health["checks"] if c["name"] == "nodes"]
    assert not nodes_check["ok"] and f"node {VICTIM} is dead" in nodes_check["detail"], health
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        metrics = answer.read().decode()
    assert f'archive_node_up{{node="{VICTIM}"}} 0' in metrics and 'archive_node_up{node="n1"} 1' in metrics
    assert 'archive_node_cameras{node="n1"} 3' in metrics and f"archive_lease_takeovers_total {takeovers}" in metrics
    print(f"dead node reported: nodes list, status, /health ({nodes_check['detail']}), /metrics")


def _recorded_by(cfg_dir: Path, node: str) -> set[str]:
    status = cfg_dir / f"var-{node}" / "run" / "status.json"
    try:
        data = json.loads(status.read_text())
    except (OSError, ValueError):
        return set()
    return {str(c["camera_id"]) for c in data.get("cameras", [])}


@pytest.mark.slow
@pytest.mark.postgres
def test_nodes_share_fail_over_and_take_back(seaweed: EmbeddedSeaweed, pg_catalog_url: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    media, logs = f"nf-media-{tag}", f"nf-logs-{tag}"
    service_store_for(seaweed, media, logs)
    cfgs = {n: _config(tmp_path / f"{n}.toml", n, pg_catalog_url, seaweed, media, logs) for n in NODES}
    engine = create_engine(pg_catalog_url)
    nodes = {n: Node(n, cfgs[n]) for n in NODES}
    cams = [f"dishub-{i:03d}" for i in range(1, CAMERAS + 1)]
    holes: dict[str, float] = {}
    with SimulatedCameraSet(CAMERAS, ["h264"]) as sims:
        listing = dishub_listing(tmp_path / "cameras.yaml", cams, sims.urls)
        imported = _cli(cfgs["n1"], "cameras", "import", str(listing))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        try:
            for n in NODES:
                nodes[n].start()
            running = list(nodes.values())
            # (a) one node per camera, within one camera of the weighted share, and each records its own
            _wait("a balanced assignment", lambda: _balanced(engine, cams, NODES), 120, running)
            time.sleep(6)  # it stays so (no handover churn), and every camera records segments
            assert _balanced(engine, cams, NODES)
            held = _holders(engine)
            _wait("every node to publish the cameras it holds",
                  lambda: all(_recorded_by(tmp_path, n) == {c for c, (h, _) in _holders(engine).items() if h == n}
                              for n in NODES), 30, running)  # fmt: skip
            assert all(_segments(engine, c) for c in cams), "a camera recorded nothing"
            moved = sorted(c for c, (h, _) in held.items() if h == VICTIM)
            assert moved, held
            old_epoch = {c: held[c][1] for c in moved}

            # (b) kill -9 one node: the others record its cameras again within TTL + 5 s
            killed_at_us = time.time_ns() // 1000
            assert nodes[VICTIM].proc is not None
            os.kill(nodes[VICTIM].proc.pid, signal.SIGKILL)
            nodes[VICTIM].proc.wait(10)
            survivors = [nodes[n] for n in NODES if n != VICTIM]

            def taken_over() -> bool:
                return all(any(e > old_epoch[c] for _, _, e in _segments(engine, c)) for c in moved)

            _wait("the dead node's cameras to be recorded again", taken_over, 60, survivors)
            logged_at_us = time.time_ns() // 1000
            resumed = {c: next(s for s, _, e in _segments(engine, c) if e > old_epoch[c]) for c in moved}
            for c in moved:
                after = (resumed[c] - killed_at_us) / 1e6
                print(f"camera {c}: recording again {after:.2f} s after kill -9 of {VICTIM} "
                      f"(first segment logged within {(logged_at_us - killed_at_us) / 1e6:.2f} s)")  # fmt: skip
                assert after <= TTL_S + 5, after
            new_holder = _holders(engine)
            assert all(new_holder[c][0] != VICTIM for c in moved)
            assert _balanced(engine, cams, tuple(n for n in NODES if n != VICTIM))
            _dead_node_is_reported(cfgs["n1"], engine)

            # (c) the killed node comes back: its share is handed back to it
            nodes[VICTIM].start()
            running = list(nodes.values())
            _wait("the restarted node to hold its share again",
                  lambda: _balanced(engine, cams, NODES) and all(_holders(engine)[c][0] == VICTIM for c in moved)
                  and all(_segments(engine, c)[-1][2] == _holders(engine)[c][1] for c in moved),
                  90, running)  # fmt: skip
            time.sleep(4)

            # (d) SIGSTOP a node past its lease, SIGCONT: its claims were taken over, its next append is refused
            frozen = sorted(c for c, (h, _) in _holders(engine).items() if h == FROZEN)
            frozen_epoch = {c: _holders(engine)[c][1] for c in frozen}
            proc = nodes[FROZEN].proc
            assert frozen and proc is not None
            os.kill(proc.pid, signal.SIGSTOP)
            stopped_at_us = time.time_ns() // 1000
            others = [nodes[n] for n in NODES if n != FROZEN]
            _wait("the frozen node's cameras to be recorded by the others",
                  lambda: all(any(e > frozen_epoch[c] for _, _, e in _segments(engine, c)) for c in frozen),
                  60, others)  # fmt: skip
            for c in frozen:
                again = next(s for s, _, e in _segments(engine, c) if e > frozen_epoch[c])
                print(f"camera {c}: recording again {(again - stopped_at_us) / 1e6:.2f} s after SIGSTOP of {FROZEN}")
            os.kill(proc.pid, signal.SIGCONT)
            _wait("the frozen node to notice it was fenced",
                  lambda: all(f"camera {c}: FENCED" in nodes[FROZEN].log() for c in frozen), 30, running)  # fmt: skip
            _wait("the resumed node to hold its share again",
                  lambda: _balanced(engine, cams, NODES) and all(_holders(engine)[c][0] == FROZEN for c in frozen)
                  and all(_segments(engine, c)[-1][2] == _holders(engine)[c][1] for c in frozen),
                  90, running)  # fmt: skip
            time.sleep(2)

            # (e) archive nodes drain: the drained node's cameras move to the others by handover
            drained = sorted(c for c, (h, _) in _holders(engine).items() if h == DRAINED)
            drained_epoch = {c: _holders(engine)[c][1] for c in drained}
            out = _cli(cfgs["n2"], "nodes", "drain", DRAINED)
            assert out.returncode == 0 and f"node {DRAINED}: draining" in out.stdout, out.stdout + out.stderr
            rest = tuple(n for n in NODES if n != DRAINED)
            _wait("the drained node's cameras to move",
                  lambda: _balanced(engine, cams, rest)
                  and all(_segments(engine, c)[-1][2] > drained_epoch[c] for c in drained), 60, running)  # fmt: skip
            for c in drained:
                segs = _segments(engine, c)
                last_old = max(e for _, e, ep in segs if ep == drained_epoch[c])
                first_new = min(s for s, _, ep in segs if ep > drained_epoch[c])
                hole = [g for g in _gaps(engine, c) if last_old <= g[0] and g[1] <= first_new]
                holes[c] = (first_new - last_old) / 1e6
                print(
                    f"camera {c}: drained from {DRAINED}: no recording for {holes[c]:.2f} s, "
                    f"{len(hole)} gap entries: {[(g[2], g[3][:90]) for g in hole]}"
                )
                assert all(g[2] == "recorder_stopped" for g in hole), hole
                # issue 16: no hole longer than one segment (2 s here). Make before break (the receiving node records
                # before the old one stops; its first logged segment starts at the floor, where the log ends) gives
                # none the verifiers' tolerance T (0.5 s) does not absorb, so no gap entry either; break before make
                # (the new node started ffmpeg once it held the claim) measured 0.92-2.04 s
                assert holes[c] <= DEFAULT_GAP_TOLERANCE_S and not hole, (holes, hole)
            time.sleep(2)
        finally:
            codes = {n: nodes[n].stop() for n in NODES}
            for n in NODES:
                nodes[n].end_group()
    for n in NODES:
        out = nodes[n].log()
        assert "Traceback" not in out, out[-6000:]
        assert codes[n] == 0, (n, codes[n], out[-4000:])
    failover = [(c, g) for c in cams for g in _gaps(engine, c) if g[3].startswith("recorder_failover: ")]
    # exactly one failover gap per camera that moved from the killed node, and one per camera of the frozen one
    assert sorted(c for c, _ in failover) == sorted(moved + frozen), failover
    for c, (start, end, reason, detail) in failover:
        segs = _segments(engine, c)
        before = [ep for _, e, ep in segs if e == start]  # the old holder's last logged segment ends where it starts
        after = [ep for s, _, ep in segs if s == end]  # the new holder's first segment starts where it ends
        assert reason == "other" and len(before) == 1 and len(after) == 1 and after[0] > before[0], (c, segs)
        assert not [x for x in segs if start < x[1] and x[0] < end]  # no segment inside it
        old = VICTIM if c in moved else FROZEN
        assert f"node {old} stopped renewing its writer claim" in detail and "took the camera over" in detail
        print(f"camera {c}: failover gap {(end - start) / 1e6:.2f} s: {detail}")
    for c in cams:  # no two entries for one instant, no overlap (verify checks it too)
        spans = sorted([(a, b) for a, b, _ in _segments(engine, c)] + [(a, b) for a, b, _, _ in _gaps(engine, c)])
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans)), (c, spans)
    frozen_log = nodes[FROZEN].log()
    assert all(f"camera {c}: FENCED" in frozen_log for c in frozen) and "is no longer current" in frozen_log
    # the killed node's unstored files of its old claim: kept in its spool, never logged
    kept = [p for c in moved for p in (tmp_path / f"var-{VICTIM}" / "spool" / c).glob(f"*e{old_epoch[c]}-*.ts")]
    logged_keys = set()
    with engine.connect() as conn:
        logged_keys = {
            str(k).rsplit("/", 1)[-1].split("_", 1)[-1] for (k,) in conn.execute(text("SELECT object_key FROM segment"))
        }
    assert not [p.name for p in kept if p.name in logged_keys]
    print(f"{len(kept)} spool files of {VICTIM}'s old claims kept, not logged: {sorted(p.name for p in kept)}")
    for c in cams:
        verified = _cli(cfgs["n1"], "verify", "camera", c)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"OK: camera {c}" in verified.stdout
    consistent = _cli(cfgs["n1"], "verify", "log")  # every stored checkpoint consistent with the next: no fork
    assert consistent.returncode == 0, consistent.stdout + consistent.stderr
    print(consistent.stdout.strip().splitlines()[-1] if consistent.stdout.strip() else "verify log: (no output)")
    engine.dispose()
