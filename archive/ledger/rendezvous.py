"""Which node records which camera: weighted rendezvous hashing (highest random weight) with quotas.

For camera ``c`` and node ``n`` of capacity ``w``, ``h = SHA-256(n NUL c)`` read as a number in
(0, 1) gives the score ``-w / ln(h)`` (:func:`score`); plain rendezvous gives the camera to the
node with the highest score (:func:`preferred`): each node's expected share is ``w / sum(w)``
and a join or leave moves only the cameras that node wins or held. Expected is not enough for
a few dozen cameras (6 cameras on 3 equal nodes land 4/1/1 often), so :func:`assign` bounds the
loads: each node gets a quota (its share ``N * w / sum(w)`` rounded by largest remainder, so
the quotas sum to ``N`` and every node is within one camera of its share), and the pairs
(camera, node) are taken in descending score, a pair only while the camera is free and the node
below quota. A camera keeps its node unless that node's quota shrank or a node with a higher
score for it appeared, so a join or leave moves about ``N / nodes`` cameras plus a few that
cascade (measured in tests/unit/ledger/test_rendezvous.py). Pure functions; every node computes
the same answer from the same lists of live nodes and enabled cameras.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["assign", "held_counts", "preferred", "quotas", "score", "shares"]

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


def quotas(count: int, nodes: Mapping[str, float]) -> dict[str, int]:
    """How many of ``count`` cameras each node takes: its share rounded down, plus one for the
    largest remainders (ties: the smaller name) until the quotas sum to ``count``."""
    share = shares(count, nodes)
    out = {name: int(s) for name, s in share.items()}
    left = count - sum(out.values())
    for name in sorted(share, key=lambda n: (-(share[n] - out[n]), n))[:left]:
        out[name] += 1
    return out


def assign(camera_ids: Iterable[str], nodes: Mapping[str, float]) -> dict[str, str]:
    """camera id -> node for every camera, within the quotas (module docstring); empty without a node."""
    cams = sorted(set(camera_ids))
    if not nodes or not cams:
        return {}
    room = quotas(len(cams), nodes)
    pairs = sorted(((score(n, c, w), n, c) for n, w in nodes.items() for c in cams), key=lambda t: (-t[0], t[1], t[2]))
    out: dict[str, str] = {}
    for _, node, camera_id in pairs:
        if camera_id not in out and room[node] > 0:
            out[camera_id] = node
            room[node] -= 1
            if len(out) == len(cams):
                break
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
