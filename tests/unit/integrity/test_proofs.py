"""Inclusion (RFC 9162 2.1.3), consistency (2.1.4) and range proofs (SPEC.md 6.3)."""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.integrity import (
    InclusionProof,
    MalformedError,
    MemoryTree,
    ProofError,
    RangeProof,
    TreeHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    range_proof,
    range_proof_size,
    root_from_range,
    verify_consistency,
    verify_inclusion,
    verify_range_proof,
)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


LS = leaves(72)
ROOTS = [merkle_root(LS[:n]) for n in range(73)]
SRC = TreeHashes.from_list(LS)


def flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


# -- inclusion -------------------------------------------------------------------------------


def test_inclusion_all_up_to_70() -> None:
    for n in range(1, 71):
        for m in range(n):
            proof = inclusion_proof(m, n, SRC)
            assert len(proof) <= math.ceil(math.log2(n)) if n > 1 else proof == ()
            verify_inclusion(LS[m], m, n, proof, ROOTS[n])


def test_inclusion_tampering_rejected() -> None:
    n = 37
    for m in range(n):
        proof = inclusion_proof(m, n, SRC)
        with pytest.raises(ProofError):
            verify_inclusion(flip(LS[m]), m, n, proof, ROOTS[n])
        with pytest.raises(ProofError):
            verify_inclusion(LS[m], m, n, proof, ROOTS[n - 1])
        with pytest.raises(ProofError):
            verify_inclusion(LS[m], m, n, (*proof, LS[0]), ROOTS[n])
        with pytest.raises(ProofError):
            verify_inclusion(LS[m], m, n, proof[:-1], ROOTS[n])
        with pytest.raises(ProofError):
            verify_inclusion(LS[m], (m + 1) % n, n, proof, ROOTS[n])
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = flip(bad[i])
            with pytest.raises(ProofError):
                verify_inclusion(LS[m], m, n, bad, ROOTS[n])
    with pytest.raises(ProofError):
        verify_inclusion(LS[0], 5, 5, (), ROOTS[5])
    with pytest.raises(MalformedError):
        inclusion_proof(5, 5, SRC)


# -- consistency -----------------------------------------------------------------------------


def test_consistency_all_up_to_70() -> None:
    for n in range(0, 71):
        for m in range(0, n + 1):
            proof = consistency_proof(m, n, SRC)
            verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


def test_consistency_tampering_rejected() -> None:
    for n in range(2, 40):
        for m in range(1, n):
            proof = consistency_proof(m, n, SRC)
            with pytest.raises(ProofError):
                verify_consistency(m, n, flip(ROOTS[m]), ROOTS[n], proof)
            with pytest.raises(ProofError):
                verify_consistency(m, n, ROOTS[m], flip(ROOTS[n]), proof)
            with pytest.raises(ProofError):
                verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[:-1])
            with pytest.raises(ProofError):
                verify_consistency(m, n, ROOTS[m], ROOTS[n], (*proof, LS[0]))
            bad = list(proof)
            bad[0] = flip(bad[0])
            with pytest.raises(ProofError):
                verify_consistency(m, n, ROOTS[m], ROOTS[n], bad)
    with pytest.raises(ProofError):
        verify_consistency(5, 5, ROOTS[5], ROOTS[4], ())
    with pytest.raises(ProofError):
        verify_consistency(6, 5, ROOTS[6], ROOTS[5], ())
    with pytest.raises(ProofError):
        verify_consistency(0, 5, ROOTS[0], ROOTS[5], (LS[0],))


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=2, max_value=20_000), st.data())
def test_random_large_inclusion_and_consistency(n: int, data: st.DataObject) -> None:
    ls = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    mt = MemoryTree()
    mt.extend(ls)
    root = mt.root()
    m = data.draw(st.integers(0, n - 1))
    verify_inclusion(ls[m], m, n, inclusion_proof(m, n, mt), root)
    old = data.draw(st.integers(1, n))
    proof = consistency_proof(old, n, mt)
    assert proof == consistency_proof(old, n, TreeHashes.from_list(ls))
    verify_consistency(old, n, merkle_root(ls[:old]), root, proof)


# -- range proofs ----------------------------------------------------------------------------


def test_range_all_up_to_40() -> None:
    for n in range(1, 41):
        for lo in range(n):
            for hi in range(lo + 1, n + 1):
                p = range_proof(lo, hi, n, SRC)
                assert len(p.hashes) == range_proof_size(lo, hi, n)
                assert len(p.hashes) <= 2 * math.ceil(math.log2(n)) if n > 1 else p.hashes == ()
                verify_range_proof(lo, LS[lo:hi], n, p.hashes, ROOTS[n])


def test_single_leaf_range_uses_inclusion_hashes() -> None:
    for n in range(1, 70):
        for m in range(n):
            assert sorted(range_proof(m, m + 1, n, SRC).hashes) == sorted(inclusion_proof(m, n, SRC))


def test_whole_tree_range_has_empty_proof() -> None:
    for n in range(1, 70):
        assert range_proof(0, n, n, SRC).hashes == ()


@st.composite
def tree_and_range(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(min_value=2, max_value=70))
    lo = draw(st.integers(0, n - 2))
    hi = draw(st.integers(lo + 2, n))
    return n, lo, hi


@settings(max_examples=150, deadline=None)
@given(tree_and_range(), st.data())
def test_range_omission_rejected(t: tuple[int, int, int], data: st.DataObject) -> None:
    n, lo, hi = t
    p = range_proof(lo, hi, n, SRC)
    exported = LS[lo:hi]
    drop = data.draw(st.integers(0, len(exported) - 1))
    with pytest.raises(ProofError):
        verify_range_proof(lo, exported[:drop] + exported[drop + 1 :], n, p.hashes, ROOTS[n])


@settings(max_examples=150, deadline=None)
@given(tree_and_range(), st.data())
def test_range_insertion_rejected(t: tuple[int, int, int], data: st.DataObject) -> None:
    n, lo, hi = t
    p = range_proof(lo, hi, n, SRC)
    exported = LS[lo:hi]
    at = data.draw(st.integers(0, len(exported)))
    extra = data.draw(st.sampled_from([*LS, leaf_hash(b"forged")]))
    with pytest.raises(ProofError):
        verify_range_proof(lo, [*exported[:at], extra, *exported[at:]], n, p.hashes, ROOTS[n])


@settings(max_examples=150, deadline=None)
@given(tree_and_range(), st.data())
def test_range_reordering_rejected(t: tuple[int, int, int], data: st.DataObject) -> None:
    n, lo, hi = t
    p = range_proof(lo, hi, n, SRC)
    exported = list(LS[lo:hi])
    perm = data.draw(st.permutations(range(len(exported))))
    if list(perm) == sorted(perm):
        return
    shuffled = [exported[i] for i in perm]
    with pytest.raises(ProofError):
        verify_range_proof(lo, shuffled, n, p.hashes, ROOTS[n])


@settings(max_examples=150, deadline=None)
@given(tree_and_range(), st.data())
def test_range_substitution_rejected(t: tuple[int, int, int], data: st.DataObject) -> None:
    n, lo, hi = t
    p = range_proof(lo, hi, n, SRC)
    exported = list(LS[lo:hi])
    i = data.draw(st.integers(0, len(exported) - 1))
    exported[i] = leaf_hash(data.draw(st.binary(min_size=5, max_size=40)))
    with pytest.raises(ProofError):
        verify_range_proof(lo, exported, n, p.hashes, ROOTS[n])


@settings(max_examples=100, deadline=None)
@given(tree_and_range(), st.data())
def test_range_proof_tampering_rejected(t: tuple[int, int, int], data: st.DataObject) -> None:
    n, lo, hi = t
    p = range_proof(lo, hi, n, SRC)
    exported = LS[lo:hi]
    # shifted window: the same entries claimed at another position
    if lo + 1 < n - (hi - lo) + 1:
        with pytest.raises(ProofError):
            verify_range_proof(lo + 1, exported, n, p.hashes, ROOTS[n])
    # the same proof presented for another signed tree (size and its root)
    other = n - 1 if n - 1 >= hi else n + 1
    with pytest.raises(ProofError):
        verify_range_proof(lo, exported, other, p.hashes, ROOTS[other])
    if p.hashes:
        k = data.draw(st.integers(0, len(p.hashes) - 1))
        bad = list(p.hashes)
        bad[k] = flip(bad[k])
        with pytest.raises(ProofError):
            verify_range_proof(lo, exported, n, bad, ROOTS[n])
        with pytest.raises(ProofError):
            verify_range_proof(lo, exported, n, p.hashes[:-1], ROOTS[n])
    with pytest.raises(ProofError):
        verify_range_proof(lo, exported, n, (*p.hashes, LS[0]), ROOTS[n])


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=50_000), st.data())
def test_random_large_ranges_from_node_store(n: int, data: st.DataObject) -> None:
    ls = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    mt = MemoryTree()
    mt.extend(ls)
    lo = data.draw(st.integers(0, n - 1))
    hi = data.draw(st.integers(lo + 1, min(n, lo + 500)))
    p = range_proof(lo, hi, n, mt)
    assert p.hashes == range_proof(lo, hi, n, TreeHashes(lambda a, b: ls[a:b], chunk=1024)).hashes
    verify_range_proof(lo, ls[lo:hi], n, p.hashes, mt.root())
    assert root_from_range(lo, ls[lo:hi], n, p.hashes) == mt.root()


def test_year_log_hour_range_proof_size() -> None:
    n = 3_153_600  # one year of 10 s segments
    for lo in (0, 1, 359, 1_000_000, 1_576_800, 2_097_151, n - 360):
        size = range_proof_size(lo, lo + 360, n)
        assert size <= 2 * math.ceil(math.log2(n)) <= 64, (lo, size)


def test_range_proof_json_roundtrip_and_strictness() -> None:
    p = range_proof(3, 9, 20, SRC)
    assert RangeProof.from_json(p.to_json()) == p
    d = p.to_dict()
    for bad in (
        {**d, "extra": 1},
        {k: v for k, v in d.items() if k != "hashes"},
        {**d, "v": "archive-log/2"},
        {**d, "start": 9},
        {**d, "end": 21},
        {**d, "hashes": ["AB" * 32]},
        {**d, "hashes": "00"},
        {**d, "start": True},
    ):
        with pytest.raises(MalformedError):
            RangeProof.from_dict(bad)
    with pytest.raises(MalformedError):
        RangeProof.from_json(p.to_json().replace(b",", b", ", 1))
    ip = InclusionProof(4, 20, inclusion_proof(4, 20, SRC))
    assert InclusionProof.from_json(ip.to_json()) == ip
    with pytest.raises(MalformedError):
        InclusionProof(20, 20, ())
