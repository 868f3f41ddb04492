"""Inclusion (RFC 9162 2.1.3), consistency (RFC 9162 2.1.4) and range proofs (SPEC.md 6).

Generation takes a :class:`~archive.integrity.merkle.HashSource` (e.g. a
:class:`~archive.integrity.merkle.TreeHashes` over leaf hashes kept in a database). Every
proof element is one subtree hash, so generation costs O(log N) ``subtree_hash`` calls: with
stored perfect nodes that is O(log N) lookups; from leaf hashes alone it is O(N) hashing at
worst. Verification functions return None or raise :class:`ProofError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .encoding import VERSION, canonical_json, check_hex, check_int, parse_canonical
from .errors import MalformedError, ProofError
from .merkle import HashSource, merkle_root, node_hash, split_point

__all__ = [
    "InclusionProof",
    "RangeProof",
    "consistency_proof",
    "inclusion_proof",
    "range_proof",
    "range_proof_size",
    "root_from_range",
    "verify_consistency",
    "verify_inclusion",
    "verify_range_proof",
]


def inclusion_proof(index: int, size: int, source: HashSource) -> tuple[bytes, ...]:
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, ordered leaf to root.

    Raises:
        MalformedError: ``index`` not in ``[0, size)``.
    """
    if not 0 <= index < size:
        raise MalformedError(f"inclusion proof: index {index} not in tree of size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            path.append(source.subtree_hash(lo + k, hi))
            hi = lo + k
        else:
            path.append(source.subtree_hash(lo, lo + k))
            lo += k
    path.reverse()
    return tuple(path)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` with
    ``root``: the algorithm of RFC 9162 section 2.1.3.2.

    Raises:
        ProofError: the proof does not verify (wrong length or wrong root).
    """
    # RFC 9162 2.1.3.2 step 1
    if not 0 <= index < size:
        raise ProofError(f"inclusion: index {index} not in tree of size {size}")
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in proof:  # step 4
        if sn == 0:  # 4a
            raise ProofError(f"inclusion: proof for leaf {index} of {size} is too long")
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5
        raise ProofError(f"inclusion: proof for leaf {index} of {size} is too short")
    if r != root:
        raise ProofError(
            f"inclusion: leaf {index} does not lead to the root of size {size}: computed {r.hex()}, signed {root.hex()}"
        )


def consistency_proof(old_size: int, new_size: int, source: HashSource) -> tuple[bytes, ...]:
    """PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1 (empty when old is 0 or new).

    Raises:
        MalformedError: not ``0 <= old_size <= new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise MalformedError(f"consistency proof: bad sizes {old_size} -> {new_size}")
    if old_size in (0, new_size):
        return ()
    path: list[bytes] = []
    lo, hi, m, whole = 0, new_size, old_size, True  # SUBPROOF(m, D[n], true)
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            path.append(source.subtree_hash(lo + k, hi))
            hi = lo + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            path.append(source.subtree_hash(lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        path.append(source.subtree_hash(lo, hi))
    path.reverse()
    return tuple(path)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``):
    RFC 9162 section 2.1.4.2, plus the trivial cases old = new (empty proof, equal roots)
    and old = 0 (empty proof).

    Raises:
        ProofError: the proof does not verify.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(f"consistency: size went from {old_size} down to {new_size}")
    if old_size == 0 or old_size == new_size:
        if proof:
            raise ProofError(f"consistency: proof for {old_size} -> {new_size} must be empty")
        if old_size == new_size and old_root != new_root:
            raise ProofError(
                f"consistency: two different roots for size {new_size}: {old_root.hex()} and {new_root.hex()}"
            )
        return
    if not proof:  # step 1
        raise ProofError("consistency: empty proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: old size is a power of 2
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            raise ProofError(f"consistency: proof {old_size} -> {new_size} is too long")
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    # step 7
    if sn != 0:
        raise ProofError(f"consistency: proof {old_size} -> {new_size} is too short")
    if fr != old_root:
        raise ProofError(f"consistency: proof does not lead to the old root of size {old_size}")
    if sr != new_root:
        raise ProofError(f"consistency: proof does not lead to the new root of size {new_size}")


def _parse_proof(d: Mapping[str, Any], ints: tuple[str, ...], what: str) -> tuple[list[int], tuple[bytes, ...]]:
    fields = {"v", "hashes", *ints}
    if set(d) != fields:
        raise MalformedError(f"{what}: fields must be {sorted(fields)}, got {sorted(d)}")
    if d["v"] != VERSION:
        raise MalformedError(f"{what}: v must be {VERSION!r}")
    if not isinstance(d["hashes"], list):
        raise MalformedError(f"{what}: hashes must be a list")
    values = [check_int(d[k], f"{what} {k}", minimum=0) for k in ints]
    return values, tuple(check_hex(h, f"{what} hash", nbytes=32) for h in d["hashes"])


def _check_hashes(hashes: Sequence[bytes], what: str) -> None:
    if any(not isinstance(h, bytes) or len(h) != 32 for h in hashes):
        raise MalformedError(f"{what}: every hash must be 32 bytes")


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An RFC 9162 2.1.3 inclusion proof of leaf ``index`` in the tree of ``tree_size``
    (JSON form in SPEC.md 6.1).

    Raises (on construction):
        MalformedError: ``index`` not below ``tree_size`` or a hash not 32 bytes.
    """

    index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        check_int(self.index, "inclusion proof index", minimum=0)
        check_int(self.tree_size, "inclusion proof tree_size", minimum=1)
        if self.index >= self.tree_size:
            raise MalformedError(f"inclusion proof: index {self.index} not below tree size {self.tree_size}")
        object.__setattr__(self, "hashes", tuple(self.hashes))
        _check_hashes(self.hashes, "inclusion proof")

    def to_dict(self) -> dict[str, Any]:
        """JSON object form: hashes as lowercase hex, leaf to root."""
        return {
            "v": VERSION,
            "index": self.index,
            "tree_size": self.tree_size,
            "hashes": [h.hex() for h in self.hashes],
        }

    def to_json(self) -> bytes:
        """Canonical JSON bytes of :meth:`to_dict`."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InclusionProof:
        """Parse the JSON object form strictly. Raises MalformedError."""
        (index, size), hashes = _parse_proof(d, ("index", "tree_size"), "inclusion proof")
        return cls(index, size, hashes)

    @classmethod
    def from_json(cls, data: bytes) -> InclusionProof:
        """Parse canonical JSON bytes. Raises MalformedError."""
        return cls.from_dict(parse_canonical(data))


@dataclass(frozen=True, slots=True)
class RangeProof:
    """Proof that leaves ``[start, end)`` are exactly those of the tree of ``tree_size``.

    ``hashes`` are the subtree hashes of the tree nodes that lie entirely outside
    ``[start, end)`` and whose parent overlaps it, left to right (SPEC.md 6.3).

    Raises (on construction):
        MalformedError: not ``0 <= start < end <= tree_size`` or a hash not 32 bytes.
    """

    start: int
    end: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        for name in ("start", "end", "tree_size"):
            check_int(getattr(self, name), f"range proof {name}", minimum=0)
        if not 0 <= self.start < self.end <= self.tree_size:
            raise MalformedError(
                f"range proof: need 0 <= start < end <= tree_size, got [{self.start}, {self.end}) of {self.tree_size}"
            )
        object.__setattr__(self, "hashes", tuple(self.hashes))
        _check_hashes(self.hashes, "range proof")

    def to_dict(self) -> dict[str, Any]:
        """JSON object form (SPEC.md 6.3): hashes as lowercase hex, left to right."""
        return {
            "v": VERSION,
            "start": self.start,
            "end": self.end,
            "tree_size": self.tree_size,
            "hashes": [h.hex() for h in self.hashes],
        }

    def to_json(self) -> bytes:
        """Canonical JSON bytes of :meth:`to_dict`."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RangeProof:
        """Parse the JSON object form strictly.

        Raises:
            MalformedError: wrong version, missing or unknown field, bad value.
        """
        (start, end, size), hashes = _parse_proof(d, ("start", "end", "tree_size"), "range proof")
        return cls(start, end, size, hashes)

    @classmethod
    def from_json(cls, data: bytes) -> RangeProof:
        """Parse canonical JSON bytes. Raises MalformedError."""
        return cls.from_dict(parse_canonical(data))


def range_proof(start: int, end: int, size: int, source: HashSource) -> RangeProof:
    """The range proof for leaves ``[start, end)`` of the tree of ``size`` (SPEC.md 6.3).

    At most 2 * ceil(log2(size)) hashes: one per level on each side.

    Raises:
        MalformedError: not ``0 <= start < end <= size``.
    """
    if not 0 <= start < end <= size:
        raise MalformedError(f"range proof: need 0 <= start < end <= size, got [{start}, {end}) of {size}")
    hashes: list[bytes] = []

    def walk(lo: int, hi: int) -> None:
        if hi <= start or end <= lo:  # disjoint: its hash is a proof element
            hashes.append(source.subtree_hash(lo, hi))
        elif not (start <= lo and hi <= end):  # partial overlap: descend (never a leaf)
            k = split_point(hi - lo)
            walk(lo, lo + k)
            walk(lo + k, hi)
        # fully inside: the verifier computes it from the entries

    walk(0, size)
    return RangeProof(start, end, size, tuple(hashes))


def range_proof_size(start: int, end: int, size: int) -> int:
    """Number of hashes in the range proof for ``[start, end)`` of ``size`` (no hashing).

    Raises:
        MalformedError: not ``0 <= start < end <= size``.
    """
    if not 0 <= start < end <= size:
        raise MalformedError(f"range proof: need 0 <= start < end <= size, got [{start}, {end}) of {size}")

    def count(lo: int, hi: int) -> int:
        if hi <= start or end <= lo:
            return 1
        if start <= lo and hi <= end:
            return 0
        k = split_point(hi - lo)
        return count(lo, lo + k) + count(lo + k, hi)

    return count(0, size)


def root_from_range(start: int, leaves: Sequence[bytes], size: int, hashes: Sequence[bytes]) -> bytes:
    """Recompute the root of the tree of ``size`` from the leaf hashes of
    ``[start, start + len(leaves))`` and the range-proof ``hashes`` (SPEC.md 6.3).

    Raises:
        ProofError: no leaves, the range does not fit in ``size``, or the proof has too few
            or too many hashes.
    """
    end = start + len(leaves)
    if not 0 <= start < end <= size:
        raise ProofError(f"range proof: [{start}, {end}) does not fit in a tree of size {size}")
    it: Iterator[bytes] = iter(hashes)
    missing = object()

    def walk(lo: int, hi: int) -> bytes:
        if hi <= start or end <= lo:
            h = next(it, missing)
            if not isinstance(h, bytes):
                raise ProofError(f"range proof for [{start}, {end}) of {size} has too few hashes")
            return h
        if start <= lo and hi <= end:
            return merkle_root(leaves[lo - start : hi - start])
        k = split_point(hi - lo)
        return node_hash(walk(lo, lo + k), walk(lo + k, hi))

    root = walk(0, size)
    if next(it, missing) is not missing:
        raise ProofError(f"range proof for [{start}, {end}) of {size} has too many hashes")
    return root


def verify_range_proof(start: int, leaves: Sequence[bytes], size: int, hashes: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaves`` are exactly leaves ``[start, start + len(leaves))``, in order, of
    the tree of ``size`` whose root is ``root``. Any omission, insertion, reordering or change
    of a leaf inside the range changes the recomputed root.

    Raises:
        ProofError: the recomputed root differs, or the proof is malformed for the range.
    """
    got = root_from_range(start, leaves, size, hashes)
    if got != root:
        raise ProofError(
            f"range proof: entries [{start}, {start + len(leaves)}) give root {got.hex()}, "
            f"the checkpoint of size {size} says {root.hex()}"
        )
