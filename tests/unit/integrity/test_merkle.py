"""RFC 6962 tree hashing: reference vectors, incremental vs batch, stored-node sources."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.integrity import (
    EMPTY_ROOT,
    CompactRange,
    MalformedError,
    MemoryTree,
    TreeHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    range_proof,
)

HERE = Path(__file__).resolve().parent
# The project's shared design folder (/work/shared) sits beside the repository root.
SHARED_VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "vectors" / "rfc6962-roots.json"
LOCAL_VECTORS = HERE / "vectors" / "rfc6962-roots.json"


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def check_vectors(path: Path) -> None:
    # Source: RFC 6962 reference leaves and roots as published in transparency-dev/merkle
    # (testonly/constants.go); see the file's "source" field.
    vec = json.loads(path.read_text())
    inputs = [bytes.fromhex(x) for x in vec["leaf_inputs_hex"]]
    assert vec["roots_hex_by_tree_size"], "no vectors"
    for size_s, root_hex in vec["roots_hex_by_tree_size"].items():
        size = int(size_s)
        hashes = [leaf_hash(d) for d in inputs[:size]]
        assert merkle_root(hashes).hex() == root_hex, f"batch root of size {size}"
        cr = CompactRange()
        cr.extend(hashes)
        assert cr.root().hex() == root_hex, f"incremental root of size {size}"
        if size:
            assert TreeHashes.from_list(hashes).subtree_hash(0, size).hex() == root_hex
            mt = MemoryTree()
            mt.extend(hashes)
            assert mt.subtree_hash(0, size).hex() == root_hex


def test_rfc6962_vectors_local_copy() -> None:
    check_vectors(LOCAL_VECTORS)


def test_rfc6962_vectors_shared() -> None:
    if not SHARED_VECTORS.exists():
        pytest.skip(f"{SHARED_VECTORS} not present (fresh clone); the local copy is tested")
    assert json.loads(SHARED_VECTORS.read_text()) == json.loads(LOCAL_VECTORS.read_text()), "copy drifted"
    check_vectors(SHARED_VECTORS)


def test_empty_root_and_single_leaf() -> None:
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert CompactRange().root() == EMPTY_ROOT
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()


def test_incremental_equals_batch_for_every_size_up_to_300() -> None:
    ls = leaves(300)
    cr = CompactRange()
    for n in range(301):
        assert cr.size == n
        assert cr.root() == merkle_root(ls[:n]), n
        assert len(cr.edge) == n.bit_count()
        if n < 300:
            cr.append(ls[n])


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=5000), st.randoms(use_true_random=False))
def test_incremental_equals_batch_random(n: int, rng: random.Random) -> None:
    # leaf contents from a drawn generator: one draw per example, not 5,000 (that took 109 s under load)
    ls = [hashlib.sha256(rng.randbytes(rng.randrange(4)) + i.to_bytes(4, "big")).digest() for i in range(n)]
    cr = CompactRange()
    cr.extend(ls)
    assert cr.root() == merkle_root(ls)


def test_state_roundtrip_and_resume() -> None:
    ls = leaves(1000)
    whole = CompactRange()
    whole.extend(ls)
    for cut in (0, 1, 2, 3, 511, 512, 513, 777):
        a = CompactRange()
        a.extend(ls[:cut])
        b = CompactRange.from_bytes(a.to_bytes())
        assert b.size == cut and b.root() == a.root()
        c = CompactRange(b.size, b.edge)
        b.extend(ls[cut:])
        c.extend(ls[cut:])
        assert b.root() == c.root() == whole.root()


def test_completed_nodes_are_perfect_subtrees() -> None:
    ls = leaves(200)
    cr = CompactRange()
    seen = 0
    for leaf in ls:
        for node in cr.append(leaf):
            width = 1 << node.level
            lo = node.index * width
            assert node.hash == merkle_root(ls[lo : lo + width])
            seen += 1
    assert seen == 200 - (200).bit_count()  # every internal perfect node exactly once


def test_bad_state_rejected() -> None:
    with pytest.raises(MalformedError):
        CompactRange(3, [bytes(32)])  # needs 2 edge hashes
    with pytest.raises(MalformedError):
        CompactRange(1, [bytes(31)])
    with pytest.raises(MalformedError):
        CompactRange.from_bytes(b"\x00" * 9)
    with pytest.raises(MalformedError):
        CompactRange().append(b"short")


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.data())
def test_subtree_hash_sources_agree(n: int, data: st.DataObject) -> None:
    ls = leaves(n)
    lo = data.draw(st.integers(0, n - 1))
    hi = data.draw(st.integers(lo + 1, n))
    want = merkle_root(ls[lo:hi])
    mt = MemoryTree()
    mt.extend(ls)
    assert mt.subtree_hash(lo, hi) == want
    assert TreeHashes.from_list(ls).subtree_hash(lo, hi) == want
    chunky = TreeHashes(lambda a, b: ls[a:b], chunk=7)
    assert chunky.subtree_hash(lo, hi) == want
    assert TreeHashes(lambda a, b: ls[a:b], mt.node, chunk=1).subtree_hash(lo, hi) == want


def test_node_store_avoids_leaf_fetches() -> None:
    ls = leaves(4096 + 77)
    mt = MemoryTree()
    mt.extend(ls)
    fetched: list[tuple[int, int]] = []

    def fetch(a: int, b: int) -> list[bytes]:
        fetched.append((a, b))
        return ls[a:b]

    calls: list[tuple[int, int]] = []

    def node(level: int, index: int) -> bytes | None:
        calls.append((level, index))
        return mt.node(level, index)

    src = TreeHashes(fetch, node)
    n = len(ls)
    assert src.subtree_hash(0, 4096) == merkle_root(ls[:4096])
    assert src.subtree_hash(4096, 4096 + 64) == merkle_root(ls[4096 : 4096 + 64])
    assert src.subtree_hash(4096, n) == merkle_root(ls[4096:])  # a right-edge node
    assert src.subtree_hash(0, n) == mt.root()
    assert fetched == []
    assert len(calls) < 20
    # every proof element is a tree node: O(log N) lookups, no leaf fetches
    calls.clear()
    range_proof(1000, 1360, n, src)
    inclusion_proof(4100, n, src)
    consistency_proof(3000, n, src)
    assert fetched == [] and len(calls) < 80


def test_leaf_source_errors() -> None:
    with pytest.raises(MalformedError):
        TreeHashes(lambda a, b: []).subtree_hash(0, 2)
    with pytest.raises(MalformedError):
        TreeHashes.from_list(leaves(4)).subtree_hash(2, 2)
    with pytest.raises(MalformedError):
        MemoryTree().subtree_hash(0, 1)
