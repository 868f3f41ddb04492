"""Which node records which camera: weighted rendezvous hashing (highest random weight).

For camera ``c`` and node ``n`` of capacity ``w``, ``h = SHA-256(n NUL c)`` read as a number in
(0, 1) gives the score ``-w / ln(h)``; the camera goes to the node with the highest score (ties:
the smaller name). Each node's expected share is ``w / sum(w)`` (the scores are exponentially
distributed with rate ``1/w``), and when a node joins or leaves only the cameras it wins or held
move: every other camera keeps its node. Pure functions; every node computes the same answer
from the same list of live nodes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["assign", "held_counts", "preferred", "score", "shares"]

_SCALE = float(2**64)


def score(node: str, camera_id: str, capacity: float) -> float:
    """The node's weight for the camera (higher wins). Raises ValueError for a capacity <= 0."""
    if capacity <= 0:
        raise ValueError("capacity must be positive")
    digest = hashlib.sha256(f"{node}\0{camera_id}".encode()).digest()
    unit = (int.from_bytes(digest[:8], "big") + 0.5) / _SCALE  # in (0, 1): never 0, never 1
    return -capacity / math.log(unit)


def preferred(camera_id: str, nodes: Mapping[str, float]) -> str | None:
    """The node (name -> capacity) that should record the camera; None when there is no node."""
    best: tuple[float, str] | None = None
    for name in sorted(nodes):
        s = score(name, camera_id, nodes[name])
        if best is None or s > best[0]:
            best = (s, name)
    return None if best is None else best[1]


def assign(camera_ids: Iterable[str], nodes: Mapping[str, float]) -> dict[str, str]:
    """camera id -> node for every camera (empty when there is no node)."""
    if not nodes:
        return {}
    out: dict[str, str] = {}
    for camera_id in camera_ids:
        node = preferred(camera_id, nodes)
        assert node is not None
        out[camera_id] = node
    return out


def shares(count: int, nodes: Mapping[str, float]) -> dict[str, float]:
    """Each node's weighted share of ``count`` cameras (``count * w / sum(w)``)."""
    total = sum(nodes.values())
    return {name: count * w / total for name, w in nodes.items()} if total > 0 else {}


def held_counts(assignment: Mapping[str, str], names: Sequence[str]) -> dict[str, int]:
    """How many cameras each of ``names`` gets in ``assignment`` (0 for none)."""
    counts = dict.fromkeys(names, 0)
    for node in assignment.values():
        counts[node] = counts.get(node, 0) + 1
    return counts
