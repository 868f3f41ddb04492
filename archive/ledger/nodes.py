"""Recorder nodes in the catalog (SQL over ``recorder_node``; issue 16).

A node (``archive up --node NAME``) registers with its capacity, lease TTL, API address and the
writer-claim holder of its process, then heartbeats every few seconds. Times are the DATABASE
clock (microseconds), like writer claims, so the hosts' clocks do not matter. A node is **live**
while its state is not ``stopped`` and its last heartbeat is less than its lease TTL old.

Functions take an open connection (the caller owns the transaction) and let SQLAlchemyError through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, Table, and_, insert, select, update
from sqlmodel import SQLModel

from archive.errors import NodeRunningError
from archive.ledger import tables  # noqa: F401  (registers the tables in SQLModel.metadata)
from archive.ledger.claims import db_now_us

__all__ = ["NODE", "STATES", "NodeRecord", "heartbeat", "list_nodes", "register_node", "set_state"]

NODE: Final[Table] = SQLModel.metadata.tables["recorder_node"]
STATES: Final = ("running", "draining", "stopped")


@dataclass(frozen=True)
class NodeRecord:
    """A ``recorder_node`` row, with the database clock at the moment it was read."""

    name: str
    capacity: float
    started_us: int
    heartbeat_us: int
    lease_ttl_us: int
    state: str
    api: str
    holder: str
    read_at_us: int

    @property
    def heartbeat_age_s(self) -> float:
        """Seconds since the last heartbeat (database clock)."""
        return max(0, self.read_at_us - self.heartbeat_us) / 1e6

    @property
    def live(self) -> bool:
        """Not stopped, and heartbeating within its lease TTL."""
        return self.state != "stopped" and self.read_at_us - self.heartbeat_us < self.lease_ttl_us

    @property
    def takes_cameras(self) -> bool:
        """Live and running (a draining node hands its cameras over and takes none)."""
        return self.live and self.state == "running"


def _record(row: object, now: int) -> NodeRecord:
    m = row._mapping  # type: ignore[attr-defined]
    return NodeRecord(str(m["name"]), float(m["capacity"]), int(m["started_us"]), int(m["heartbeat_us"]),
                      int(m["lease_ttl_us"]), str(m["state"]), str(m["api"]), str(m["holder"]), now)  # fmt: skip


def list_nodes(conn: Connection) -> list[NodeRecord]:
    """Every node ever registered, by name."""
    now = db_now_us(conn)
    return [_record(r, now) for r in conn.execute(select(NODE).order_by(NODE.c.name))]


def register_node(conn: Connection, name: str, *, capacity: float, lease_ttl_us: int, api: str,
                  holder: str) -> NodeRecord:  # fmt: skip
    """Register (or re-register) node ``name`` for the process ``holder``, state running.

    Raises:
        NodeRunningError: another process's node of that name is live (one process per node name).
    """
    now = db_now_us(conn)
    row = conn.execute(select(NODE).where(NODE.c.name == name).with_for_update()).first()
    values = {"capacity": capacity, "started_us": now, "heartbeat_us": now, "lease_ttl_us": lease_ttl_us,
              "state": "running", "api": api[:255], "holder": holder}  # fmt: skip
    if row is None:
        conn.execute(insert(NODE).values(name=name, **values))
    else:
        old = _record(row, now)
        if old.live and old.holder != holder:
            raise NodeRunningError(f"node {name} is already running (process {old.holder}, last heartbeat "
                                   f"{old.heartbeat_age_s:.1f} s ago): one process per node name")  # fmt: skip
        conn.execute(update(NODE).where(NODE.c.name == name).values(**values))
    return NodeRecord(name, capacity, now, now, lease_ttl_us, "running", api[:255], holder, now)


def heartbeat(conn: Connection, name: str, holder: str) -> str | None:
    """Record a heartbeat of ``name`` by ``holder``; returns the node's state (an operator may have
    set it to draining), or None when the row is no longer this process's (re-register)."""
    now = db_now_us(conn)
    done = conn.execute(update(NODE).where(and_(NODE.c.name == name, NODE.c.holder == holder))
                        .values(heartbeat_us=now))  # fmt: skip
    if done.rowcount != 1:
        return None
    return str(conn.execute(select(NODE.c.state).where(NODE.c.name == name)).scalar_one())


def set_state(conn: Connection, name: str, state: str, holder: str | None = None) -> bool:
    """Set the node's state (``holder``: only while that process owns the row). False if no such row."""
    if state not in STATES:
        raise ValueError(f"unknown node state {state!r}")
    cond = NODE.c.name == name if holder is None else and_(NODE.c.name == name, NODE.c.holder == holder)
    return bool(conn.execute(update(NODE).where(cond).values(state=state)).rowcount == 1)
