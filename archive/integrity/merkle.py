"""RFC 6962 / RFC 9162 Merkle tree hashing: batch root, incremental compact range, subtree
hashes from stored leaf and node hashes (SPEC.md section 5).

- leaf hash  = SHA-256(0x00 || entry bytes)           (RFC 9162 section 2.1.1)
- node hash  = SHA-256(0x01 || left || right)         (RFC 9162 section 2.1.1)
- MTH({})    = SHA-256("")
- MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Node addressing: a *perfect* node at ``(level, index)`` is the root of the aligned subtree
over leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 nodes are leaf hashes.
Every node of an RFC 6962 tree of size N is either perfect or lies on the right edge
(ends at N); right-edge nodes are recomputed from at most log2(N) perfect nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import MalformedError

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "HashSource",
    "LeafFetcher",
    "MemoryTree",
    "Node",
    "NodeFetcher",
    "TreeHashes",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "split_point",
]

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()
"""MTH of the empty tree (RFC 9162 section 2.1.1)."""

LeafFetcher = Callable[[int, int], Sequence[bytes]]
"""``fetch(lo, hi)`` returns the leaf hashes with index in ``[lo, hi)``, in order."""

NodeFetcher = Callable[[int, int], "bytes | None"]
"""``get(level, index)`` returns the stored perfect node hash, or None if not stored."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of leaf ``data`` (RFC 9162 section 2.1.1)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node (RFC 9162 section 2.1.1)."""
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n >= 2``), RFC 9162 section 2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over ``leaf_hashes`` by the recursive definition of RFC 9162 section 2.1.1.

    O(n) hashing, O(log n) recursion depth. This is the batch reference; :class:`CompactRange`
    computes the same root incrementally.
    """

    def mth(lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 1:
            return leaf_hashes[lo]
        k = split_point(n)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return EMPTY_ROOT if not leaf_hashes else mth(0, len(leaf_hashes))


@dataclass(frozen=True, slots=True)
class Node:
    """A completed perfect subtree: its ``(level, index)`` address and hash."""

    level: int
    index: int
    hash: bytes


class CompactRange:
    """Incremental RFC 6962 tree over leaves ``[0, size)`` keeping only the right edge.

    The state is ``size`` and one perfect subtree hash per set bit of ``size`` (largest
    first): at most 64 hashes. :meth:`append` costs O(1) amortized and O(log n) worst-case
    hashes and never rebuilds; :meth:`root` folds the edge right to left (O(log n)).
    """

    __slots__ = ("_edge", "_size")

    def __init__(self, size: int = 0, edge: Iterable[bytes] = ()) -> None:
        """Restore a state (default: the empty tree).

        Raises:
            MalformedError: ``len(edge)`` differs from the number of set bits of ``size``,
                or a hash is not 32 bytes.
        """
        hashes = list(edge)
        if size < 0 or len(hashes) != size.bit_count():
            raise MalformedError(f"compact range: size {size} needs {max(size, 0).bit_count()} edge hashes")
        if any(not isinstance(h, bytes) or len(h) != 32 for h in hashes):
            raise MalformedError("compact range: every edge hash must be 32 bytes")
        self._size = size
        self._edge = hashes

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    @property
    def edge(self) -> tuple[bytes, ...]:
        """The right-edge perfect subtree hashes, largest (leftmost) first."""
        return tuple(self._edge)

    def append(self, leaf: bytes) -> tuple[Node, ...]:
        """Append one leaf hash; return the perfect nodes of level >= 1 it completed.

        Raises:
            MalformedError: ``leaf`` is not 32 bytes.
        """
        if len(leaf) != 32:
            raise MalformedError("leaf hash must be 32 bytes")
        size = self._size
        edge = self._edge
        node = leaf
        if not size & 1:
            edge.append(leaf)
            self._size = size + 1
            return ()
        completed = []
        level = 0
        s = size
        while s & 1:
            node = _sha256(b"\x01" + edge.pop() + node).digest()
            level += 1
            s >>= 1
            completed.append(Node(level, size >> level, node))
        edge.append(node)
        self._size = size + 1
        return tuple(completed)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes (completed nodes are discarded)."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of the ``size`` leaves (RFC 9162 section 2.1.1)."""
        edge = self._edge
        if not edge:
            return EMPTY_ROOT
        acc = edge[-1]
        for h in reversed(edge[:-1]):
            acc = _sha256(b"\x01" + h + acc).digest()
        return acc

    def copy(self) -> CompactRange:
        """An independent copy."""
        return CompactRange(self._size, self._edge)

    def to_bytes(self) -> bytes:
        """Serialized state: 8-byte big-endian size followed by the edge hashes."""
        return self._size.to_bytes(8, "big") + b"".join(self._edge)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """Inverse of :meth:`to_bytes`.

        Raises:
            MalformedError: wrong length for the size it declares.
        """
        if len(data) < 8 or (len(data) - 8) % 32:
            raise MalformedError("compact range: bad serialized length")
        size = int.from_bytes(data[:8], "big")
        return cls(size, [data[i : i + 32] for i in range(8, len(data), 32)])


class HashSource(Protocol):
    """Anything that returns MTH(D[lo:hi]) for the leaves of one log."""

    def subtree_hash(self, lo: int, hi: int) -> bytes:
        """MTH of leaves ``[lo, hi)`` (``lo < hi``)."""
        ...


def _fold(leaves: Iterable[bytes]) -> bytes:
    cr = CompactRange()
    cr.extend(leaves)
    return cr.root()


class TreeHashes:
    """A :class:`HashSource` over leaf hashes fetched by index, optionally with stored nodes.

    ``subtree_hash(lo, hi)`` uses a stored perfect node whenever ``[lo, hi)`` is aligned and
    ``nodes`` has it (``nodes`` may return None, e.g. for level 0 if leaves are not stored
    there); a right-edge node is split into its perfect left child and the rest; anything
    else splits as RFC 9162 does and, for pieces of at most ``chunk`` leaves, fetches the leaf
    hashes and hashes them. Costs:

    - leaves only: O(hi - lo) hashing and fetching (proof generation is O(N) at worst), with
      memory bounded by ``chunk`` hashes;
    - all perfect nodes stored: O(log N) lookups for any node of the tree (perfect or right
      edge), so inclusion, consistency and range proofs cost O(log N) lookups each; ranges
      that are not tree nodes may still fall back to leaves.

    Raises (from :meth:`subtree_hash`):
        MalformedError: the fetcher returned the wrong number of hashes or a hash that is
            not 32 bytes, or the range is empty or negative.
    """

    def __init__(self, leaves: LeafFetcher, nodes: NodeFetcher | None = None, *, chunk: int = 1 << 16) -> None:
        self._leaves = leaves
        self._nodes = nodes
        self._chunk = max(1, chunk)

    @classmethod
    def from_list(cls, leaf_hashes: Sequence[bytes]) -> TreeHashes:
        """A source over an in-memory list of leaf hashes."""
        return cls(lambda lo, hi: leaf_hashes[lo:hi])

    def _fetch(self, lo: int, hi: int) -> Sequence[bytes]:
        got = self._leaves(lo, hi)
        if len(got) != hi - lo or any(len(h) != 32 for h in got):
            raise MalformedError(f"leaf source returned {len(got)} hashes for [{lo}, {hi}) or a bad hash")
        return got

    def subtree_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]). See the class docstring for costs and errors."""
        n = hi - lo
        if lo < 0 or n <= 0:
            raise MalformedError(f"empty or negative leaf range [{lo}, {hi})")
        if self._nodes is not None:
            if n & (n - 1) == 0 and lo % n == 0:  # an aligned perfect node: look it up
                level = n.bit_length() - 1
                stored = self._nodes(level, lo >> level)
                if stored is not None:
                    if len(stored) != 32:
                        raise MalformedError(f"node store returned a bad hash for ({level}, {lo >> level})")
                    return stored
            else:
                k = split_point(n)
                if lo % (2 * k) == 0:  # shaped like a right-edge node: perfect left child + the rest
                    return node_hash(self.subtree_hash(lo, lo + k), self.subtree_hash(lo + k, hi))
        if n == 1:
            return self._fetch(lo, hi)[0]
        if n <= self._chunk:
            return _fold(self._fetch(lo, hi))
        k = split_point(n)
        return node_hash(self.subtree_hash(lo, lo + k), self.subtree_hash(lo + k, hi))


class MemoryTree:
    """An append-only tree kept in memory with every leaf and perfect node hash.

    Useful for tests, tools and small logs; the same layout (``(level, index) -> hash``) is
    what a database-backed store keeps. Memory: about 64 bytes per leaf. It is a
    :class:`HashSource` with O(log N) ``subtree_hash``.
    """

    def __init__(self) -> None:
        self._range = CompactRange()
        self._levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._range.size

    def append(self, leaf: bytes) -> tuple[Node, ...]:
        """Append a leaf hash, store it and the nodes it completes; return those nodes.

        Raises:
            MalformedError: ``leaf`` is not 32 bytes.
        """
        nodes = self._range.append(leaf)
        levels = self._levels
        levels[0] += leaf
        for node in nodes:
            if node.level == len(levels):
                levels.append(bytearray())
            levels[node.level] += node.hash
        return nodes

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of all leaves."""
        return self._range.root()

    def leaves(self, lo: int, hi: int) -> list[bytes]:
        """Leaf hashes ``[lo, hi)`` (clipped to the tree)."""
        raw = self._levels[0]
        return [bytes(raw[i * 32 : i * 32 + 32]) for i in range(max(lo, 0), min(hi, self.size))]

    def node(self, level: int, index: int) -> bytes | None:
        """The perfect node ``(level, index)`` if complete, else None."""
        if level >= len(self._levels):
            return None
        raw = self._levels[level]
        if (index + 1) * 32 > len(raw) or index < 0:
            return None
        return bytes(raw[index * 32 : index * 32 + 32])

    def subtree_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) from stored nodes (O(log N) lookups).

        Raises:
            MalformedError: the range is empty or reaches beyond the tree.
        """
        if hi > self.size:
            raise MalformedError(f"leaf range [{lo}, {hi}) beyond tree size {self.size}")
        return TreeHashes(self.leaves, self.node).subtree_hash(lo, hi)
