"""The ``[node]`` section: this process as one recorder node of several (issue 16).

``name`` empty (the default) means no node: ``archive up`` records every enabled camera itself,
as a single process. With a name (or ``archive up --node NAME``) the process registers in the
catalog's ``recorder_node`` table, heartbeats every ``renew_every_s`` seconds, and records the
cameras that weighted rendezvous hashing gives it among the live nodes (:mod:`archive.ledger.rendezvous`),
holding each one's writer claim with a lease of ``lease_ttl_s`` seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from archive.errors import ConfigError

__all__ = ["NODE_NAME", "NodeConfig", "check_node_name", "validate_node"]

#: A node name: letters, digits, ``.``, ``_``, ``-``; 1-64 characters (it is part of writer-claim holders).
NODE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class NodeConfig:
    """This recorder node: its name (empty: not a node), weight, lease and heartbeat period."""

    name: str = ""
    capacity: float = 1.0
    """Relative weight in the camera assignment (a node of 2.0 gets about twice the cameras of 1.0)."""
    lease_ttl_s: float = 15.0
    """A node (and each camera lease it holds) is dead this long after its last heartbeat or renewal."""
    renew_every_s: float = 5.0
    """Heartbeat and lease renewal period; must be less than half of ``lease_ttl_s``."""


def check_node_name(name: str, where: str) -> str:
    """``name`` if it is a valid node name. Raises ConfigError naming ``where``."""
    if NODE_NAME.fullmatch(name) is None:
        raise ConfigError(f"{where}: a node name is 1-64 letters, digits, '.', '_' or '-' (starting with a letter "
                          f"or digit), got {name!r}")  # fmt: skip
    return name


def validate_node(node: NodeConfig, src: str) -> None:
    """Cross-field checks of ``[node]``. Raises ConfigError naming the key."""
    if node.name:
        check_node_name(node.name, f"{src}: node.name")
    if not 0.01 <= node.capacity <= 1000:
        raise ConfigError(f"{src}: node.capacity must be between 0.01 and 1000")
    if not 2 <= node.lease_ttl_s <= 300:
        raise ConfigError(f"{src}: node.lease_ttl_s must be between 2 and 300 seconds")
    if not 0.5 <= node.renew_every_s <= node.lease_ttl_s / 2:
        raise ConfigError(f"{src}: node.renew_every_s must be between 0.5 s and half of node.lease_ttl_s")
