"""This process as a recorder node (issue 16): registration, heartbeat, who records which camera.

:class:`NodeMember` registers the node in ``recorder_node`` (:mod:`archive.ledger.nodes`), then
heartbeats every ``renew_every_s`` on its own thread and keeps the list of nodes it read with the
heartbeat. :meth:`NodeMember.mine` says which cameras this node should hold now: those weighted
rendezvous hashing with quotas (:func:`archive.ledger.rendezvous.assign`) gives it among the live
running nodes, the
ones it holds whose preferred node is not another live running node (nobody else would take
them), and any camera whose writer claim expired more than one lease ago without being taken
(its preferred node is not picking it up). While the node cannot reach the catalog its view
goes stale after one lease: it then keeps what it records and takes nothing new; so it does for one
renewal period once the catalog answers again (:attr:`NodeMember.recovering`), so that a catalog
restart does not make every node judge the others dead before they could renew.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping
from typing import Final

from sqlalchemy import Engine

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogError, NodeRunningError
from archive.ledger.claims import ClaimRecord, all_claims
from archive.ledger.nodes import NodeRecord, heartbeat, list_nodes, register_node, set_state
from archive.ledger.rendezvous import assign
from archive.ledger.writers import RENEW_RETRY_S, process_holder
from archive.node_config import NodeConfig
from archive.periodic import Periodic

__all__ = ["NodeMember", "node_holder", "node_of"]

log = logging.getLogger(__name__)
_SEP: Final = "@"
#: After a failed heartbeat or lease renewal the next try comes this soon (not a renewal period later): an
#: outage of the catalog shorter than the lease minus one renewal period then changes no lease's holder
CATALOG_RETRY_S: Final = RENEW_RETRY_S


def node_holder(name: str) -> str:
    """The writer-claim holder of this process as node ``name``: ``<name>@<host>:<pid>:<random>``."""
    return f"{name}{_SEP}{process_holder()}"


def node_of(holder: str) -> str | None:
    """The node name in a claim holder written by :func:`node_holder` (None for a plain process)."""
    name, sep, _ = holder.partition(_SEP)
    return name if sep else None


class NodeMember:
    """The node this process runs (``[node] name``). Thread-safe; :meth:`register` first."""

    def __init__(self, engine: Engine, config: NodeConfig, holder: str, api: str) -> None:
        self.config, self.holder, self._engine, self._api = config, holder, engine, api
        self.name = config.name
        self._ttl_us = round(config.lease_ttl_s * 1_000_000)
        self._guard = threading.Lock()
        self._nodes: tuple[NodeRecord, ...] = ()
        self._seen_at = 0.0  # monotonic time of the last successful heartbeat
        self._state = "running"
        self._beats_failed = 0
        self._recovered_at = -1e9  # monotonic time of the first good heartbeat after failed ones
        self._assignment: dict[str, str] = {}
        self._beater = Periodic(f"node-{self.name}", config.renew_every_s, self.beat, retry_s=CATALOG_RETRY_S)

    def register(self) -> None:
        """Register the node (state running) and read the others.

        Raises:
            NodeRunningError: another live process runs a node of this name.
            CatalogError: the database failed.
        """
        with catalog_errors(f"cannot register node {self.name}"), self._engine.begin() as conn:
            register_node(conn, self.name, capacity=self.config.capacity, lease_ttl_us=self._ttl_us,
                          api=self._api, holder=self.holder)  # fmt: skip
            nodes = list_nodes(conn)
        with self._guard:
            self._nodes, self._seen_at, self._state = tuple(nodes), time.monotonic(), "running"

    def beat(self) -> bool:
        """One heartbeat (and a fresh read of the nodes); False when it failed (the next one is tried
        :data:`CATALOG_RETRY_S` later, so a catalog back from a restart sees it at once). Raises
        nothing: a failure is logged and the view goes stale one lease later (module docstring)."""
        try:
            with catalog_errors(f"cannot heartbeat node {self.name}"), self._engine.begin() as conn:
                state = heartbeat(conn, self.name, self.holder)
                if state is None:  # the row was taken by another process after this one looked dead
                    register_node(conn, self.name, capacity=self.config.capacity, lease_ttl_us=self._ttl_us,
                                  api=self._api, holder=self.holder)  # fmt: skip
                    state = "running"
                nodes = list_nodes(conn)
        except (CatalogError, NodeRunningError) as exc:  # NodeRunningError: another process runs the name now
            self._failed(exc)
            return False
        with self._guard:
            if self._beats_failed:
                self._recovered_at = time.monotonic()
            self._nodes, self._seen_at, self._state, self._beats_failed = tuple(nodes), time.monotonic(), state, 0
        return True

    def _failed(self, exc: BaseException) -> None:
        with self._guard:
            self._beats_failed += 1
        log.warning("node %s: heartbeat failed (%s); its cameras keep recording", self.name, exc)

    def start(self) -> None:
        """Heartbeat every ``renew_every_s`` on a daemon thread."""
        self._beater.start()

    def stop(self) -> None:
        """Stop heartbeating and mark the node stopped (its claims are released by their owner)."""
        self._beater.stop()
        try:
            with catalog_errors(f"cannot stop node {self.name}"), self._engine.begin() as conn:
                set_state(conn, self.name, "stopped", holder=self.holder)
        except CatalogError as exc:
            log.warning("node %s: could not be marked stopped (%s); it looks dead after its lease", self.name, exc)

    # -- what it knows --------------------------------------------------------------------
    @property
    def state(self) -> str:
        """running or draining (as an operator set it), as read at the last heartbeat."""
        with self._guard:
            return self._state

    def nodes(self) -> tuple[NodeRecord, ...]:
        """Every registered node as read at the last heartbeat."""
        with self._guard:
            return self._nodes

    @property
    def stale(self) -> bool:
        """True when the last successful heartbeat is more than one lease old."""
        with self._guard:
            return time.monotonic() - self._seen_at > self.config.lease_ttl_s

    @property
    def recovering(self) -> bool:
        """True for one renewal period (at least twice :data:`CATALOG_RETRY_S`) after the catalog answered
        this node again: the other nodes, cut off alike, have not renewed their heartbeats and leases
        yet, so none is judged dead (and no camera taken over) before they could."""
        with self._guard:
            since = time.monotonic() - self._recovered_at
        return since < max(self.config.renew_every_s, 2 * CATALOG_RETRY_S)

    def placement(self) -> dict[str, float]:
        """The nodes that take cameras (live and running): name -> capacity."""
        return {n.name: n.capacity for n in self.nodes() if n.takes_cameras}

    def preferred(self, camera_id: str) -> str | None:
        """The node the last :meth:`mine` gave the camera to (None: none, or not computed yet)."""
        with self._guard:
            return self._assignment.get(camera_id)

    def claims(self) -> dict[str, ClaimRecord]:
        """Every camera's writer claim row, read with a fresh list of the nodes (so a node that died
        is seen at this look, not at the next heartbeat). Raises CatalogError."""
        with catalog_errors("cannot read the writer claims"), self._engine.connect() as conn:
            claims = {r.claim.camera_id: r for r in all_claims(conn)}
            nodes = tuple(list_nodes(conn))
        with self._guard:
            self._nodes = nodes
        return claims

    def mine(self, wanted: Collection[str], recording: Collection[str],
             claims: Mapping[str, ClaimRecord]) -> set[str]:  # fmt: skip
        """Of the ``wanted`` (enabled) cameras, those this node should hold now (module docstring);
        ``recording``: what it records now; ``claims``: every camera's writer claim row."""
        if self.stale or self.recovering:
            return {c for c in wanted if c in recording}
        assignment = assign(wanted, self.placement())
        with self._guard:
            self._assignment = assignment
        out: set[str] = set()
        for camera_id in wanted:
            best = assignment.get(camera_id)
            claim = claims.get(camera_id)
            orphan = claim is not None and claim.read_at_us - claim.expires_us > self._ttl_us
            if best == self.name or (camera_id in recording and best is None) or orphan:
                out.add(camera_id)
        return out
