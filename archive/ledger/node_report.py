"""What the catalog says about the recorder nodes (issue 16 item 5): ``archive nodes list``,
``archive status``, ``/health`` (a dead node degrades it by name) and ``/metrics``.

One read of ``recorder_node`` and ``writer_claim`` (database clock): each node with its capacity,
state, heartbeat age, whether it is live, and the cameras whose live claim it holds; and the
number of lease takeovers so far (every change of a camera's writer-claim holder raises its epoch
by one and epochs never go back, so the sum of ``epoch - 1`` only grows).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from archive.catalog.errors import catalog_errors
from archive.ledger.claims import all_claims
from archive.ledger.membership import node_of
from archive.ledger.nodes import list_nodes

__all__ = ["NodeReport", "NodeRow", "node_report"]


@dataclass(frozen=True)
class NodeRow:
    """One node as the catalog shows it."""

    name: str
    capacity: float
    state: str
    live: bool
    heartbeat_age_s: float
    api: str
    cameras: tuple[str, ...]

    @property
    def status(self) -> str:
        """``running``, ``draining``, ``stopped``, or ``dead`` (not stopped, no heartbeat within its lease)."""
        return self.state if self.live or self.state == "stopped" else "dead"

    def as_json(self) -> dict[str, object]:
        """Plain data for ``--json`` and ``status.json`` (no secret: the API address is host:port)."""
        return {"name": self.name, "capacity": self.capacity, "state": self.state, "status": self.status,
                "live": self.live, "heartbeat_age_s": round(self.heartbeat_age_s, 1), "api": self.api,
                "cameras": list(self.cameras)}  # fmt: skip


@dataclass(frozen=True)
class NodeReport:
    """Every registered node, and the lease takeovers counted so far."""

    nodes: tuple[NodeRow, ...]
    takeovers: int

    def problems(self) -> list[str]:
        """One sentence per dead node (registered, not stopped, no heartbeat within its lease)."""
        return [f"node {n.name} is dead: no heartbeat for {n.heartbeat_age_s:.1f} s (state {n.state}); "
                f"its cameras are taken over by the live nodes" for n in self.nodes if n.status == "dead"]  # fmt: skip


def node_report(engine: Engine) -> NodeReport:
    """Read the nodes and the claims. Raises CatalogError."""
    with catalog_errors("cannot read the recorder nodes"), engine.connect() as conn:
        nodes = list_nodes(conn)
        claims = all_claims(conn)
    held: dict[str, list[str]] = {}
    for c in claims:
        name = node_of(c.claim.holder)
        if c.live and name is not None:
            held.setdefault(name, []).append(c.claim.camera_id)
    rows = tuple(NodeRow(n.name, n.capacity, n.state, n.live, n.heartbeat_age_s, n.api,
                         tuple(sorted(held.get(n.name, ())))) for n in nodes)  # fmt: skip
    return NodeReport(rows, sum(c.claim.epoch - 1 for c in claims))
