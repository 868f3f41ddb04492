"""Recorder nodes in the catalog (issue 16 item 1) on SQLite AND PostgreSQL: registration,
heartbeat by the database clock, liveness by lease TTL, one process per node name."""

from __future__ import annotations

import time

import pytest

from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.errors import NodeRunningError
from archive.ledger.nodes import heartbeat, list_nodes, register_node, set_state


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
