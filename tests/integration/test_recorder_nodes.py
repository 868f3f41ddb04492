"""Recorder nodes in the catalog (issue 16 item 1) on SQLite AND PostgreSQL: registration,
heartbeat by the database clock, liveness by lease TTL, one process per node name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.errors import NodeRunningError
from archive.ledger.claims import take_claim
from archive.ledger.membership import NodeMember
from archive.ledger.nodes import heartbeat, list_nodes, register_node, set_state
from archive.node_config import NodeConfig
from archive.recorder.status_file import report

ARCHIVE = Path(sys.executable).parent / "archive"


def test_register_heartbeat_live_and_one_process_per_name(catalog_url: str) -> None:
    engine = make_engine(catalog_url)
    upgrade(engine)
    try:
        with engine.begin() as conn:
            register_node(conn, "rec-a", capacity=2.0, lease_ttl_us=600_000, api="127.0.0.1:8080", holder="h1")
        with engine.begin() as conn, pytest.raises(NodeRunningError, match="node rec-a is already running"):
            register_node(conn, "rec-a", capacity=1.0, lease_ttl_us=600_000, api="x", holder="h2")
        with engine.begin() as conn:
            assert heartbeat(conn, "rec-a", "h1") == "running"
            assert heartbeat(conn, "rec-a", "h2") is None  # not that process's row
            (node,) = list_nodes(conn)
        assert (node.name, node.capacity, node.api, node.state, node.live) == ("rec-a", 2.0, "127.0.0.1:8080",
                                                                               "running", True)  # fmt: skip
        time.sleep(0.7)  # past the 0.6 s lease: dead, and its name may be taken by a new process
        with engine.begin() as conn:
            (node,) = list_nodes(conn)
            assert not node.live and node.heartbeat_age_s >= 0.6
            register_node(conn, "rec-a", capacity=1.0, lease_ttl_us=600_000, api="x", holder="h2")
            assert set_state(conn, "rec-a", "draining", holder="h2")
            (node,) = list_nodes(conn)
        assert (node.holder, node.state, node.live, node.takes_cameras) == ("h2", "draining", True, False)
    finally:
        engine.dispose()


def test_nodes_list_and_drain_on_the_command_line(tmp_path: Path) -> None:
    """``archive nodes list|drain`` as a person runs them (SQLite catalog): no node, one live node
    holding a camera, an unknown node refused with exit 2, a drained node listed as draining,
    ``--node`` with a bad name refused with a sentence."""
    cfg = tmp_path / "archive.toml"
    cfg.write_text('[paths]\ndata_dir = "state"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ARCHIVE), "--config", str(cfg), *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)  # fmt: skip

    assert cli("init").returncode == 0
    empty = cli("nodes", "list")
    assert empty.returncode == 0 and "no recorder node registered" in empty.stdout, empty.stdout + empty.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'state' / 'catalog.sqlite3'}")
    try:
        with engine.begin() as conn:
            register_node(conn, "rec-1", capacity=2.0, lease_ttl_us=60_000_000, api="127.0.0.1:8080",
                          holder="rec-1@h:1:a")  # fmt: skip
            take_claim(conn, "cam-a", "rec-1@h:1:a", 60_000_000)
    finally:
        engine.dispose()
    listed = cli("nodes", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert doc["nodes"] == [{"name": "rec-1", "capacity": 2.0, "state": "running", "status": "running", "live": True,
                             "heartbeat_age_s": doc["nodes"][0]["heartbeat_age_s"], "api": "127.0.0.1:8080",
                             "cameras": ["cam-a"]}]  # fmt: skip
    assert doc["problems"] == [] and doc["lease_takeovers"] == 0
    unknown = cli("nodes", "drain", "rec-9")
    assert unknown.returncode == 2 and "no such node: rec-9" in unknown.stderr and "Traceback" not in unknown.stderr
    drained = cli("nodes", "drain", "rec-1")
    assert drained.returncode == 0 and "node rec-1: draining, but no other live running node" in drained.stdout
    text_list = cli("nodes", "list").stdout
    assert "rec-1" in text_list and "draining" in text_list and "cam-a" in text_list, text_list
    bad = cli("up", "--node", "a b")
    assert bad.returncode == 2 and "--node: a node name is 1-64 letters" in bad.stderr, bad.stderr


def test_archive_status_prints_the_nodes_and_a_problem_per_dead_node() -> None:
    """``archive status`` of a node (:func:`report` on its status file): a line per node, the dead
    one a PROBLEM (exit 1); a malformed node entry prints, never raises."""
    data: dict[str, object] = {
        "pid": 1, "age_seconds": 1.0, "store_available": True, "cameras": [],
        "problems": ["node n2 is dead: no heartbeat for 12.0 s (state running); its cameras are taken over"],
        "node": {"name": "n1", "state": "running", "lease_ttl_s": 6.0, "lease_takeovers": 2,
                 "nodes": [{"name": "n2", "status": "dead", "heartbeat_age_s": 12.0, "cameras": []},
                           {"name": "n1", "status": "running", "heartbeat_age_s": 0.4, "cameras": ["a", "b"]}, {}]},
    }  # fmt: skip
    lines, code = report(data)
    assert code == 1
    assert "node n1 (running), lease 6.0 s, lease takeovers so far 2" in lines
    assert any(ln.split() == ["node", "n2", "dead", "heartbeat", "12.0", "s", "ago", "0", "cameras"] for ln in lines)
    assert any(ln.split() == ["node", "n1", "running", "heartbeat", "0.4", "s", "ago", "2", "cameras"] for ln in lines)
    assert "PROBLEM: node n2 is dead: no heartbeat for 12.0 s (state running); its cameras are taken over" in lines


def test_a_node_takes_its_share_keeps_what_nobody_else_takes_and_freezes_on_a_stale_view(tmp_path: Path) -> None:
    """:meth:`NodeMember.mine` on a real catalog (SQLite): its quota of the cameras among the live
    running nodes; a draining node takes nothing; with no other running node it keeps what it
    records; an orphan claim (expired more than a lease ago) is anyone's; a view older than a
    lease keeps what it records and takes nothing new."""
    engine = make_engine(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    upgrade(engine)
    cams = [f"cam-{i}" for i in range(6)]
    try:
        a = NodeMember(engine, NodeConfig("a", 1.0, 2.0, 0.5), "a@h:1:x", "127.0.0.1:1")
        b = NodeMember(engine, NodeConfig("b", 1.0, 2.0, 0.5), "b@h:2:y", "127.0.0.1:2")
        a.register()
        b.register()
        claims = a.claims()
        mine_a, mine_b = a.mine(cams, set(), claims), b.mine(cams, set(), b.claims())
        assert len(mine_a) == len(mine_b) == 3 and mine_a | mine_b == set(cams)
        assert {a.preferred(c) for c in mine_b} == {"b"}
        with engine.begin() as conn:
            set_state(conn, "b", "draining")
        assert b.mine(cams, mine_b, b.claims()) == set()  # draining: hands everything over to a
        assert a.mine(cams, mine_a, a.claims()) == set(cams)
        with engine.begin() as conn:
            set_state(conn, "a", "draining")
        assert b.mine(cams, mine_b, b.claims()) == mine_b  # nobody running takes them: it keeps recording
        with engine.begin() as conn:
            set_state(conn, "a", "running")
            set_state(conn, "b", "running")
            take_claim(conn, "cam-x", "gone@h:9:z", 100_000)  # a claim of a holder that died long ago
        time.sleep(2.3)  # past one lease (2 s) after its expiry; a and b stop heartbeating meanwhile too
        a.beat()
        b.beat()
        for m in (a, b):  # an orphan is claimed by both (one wins the claim), whichever's share it is
            assert "cam-x" in m.mine([*cams, "cam-x"], set(), m.claims())
        time.sleep(2.1)  # b's last good look is now older than its lease: stale
        assert b.stale and b.mine(cams, {"cam-0"}, {}) == {"cam-0"}
    finally:
        engine.dispose()
