"""Weighted rendezvous hashing (issue 16 item 2): balance by capacity, few moves on join/leave."""

from __future__ import annotations

import pytest

from archive.ledger.rendezvous import assign, held_counts, preferred, score, shares

CAMS = [f"dishub-{i:03d}" for i in range(600)]


def test_same_answer_everywhere_and_ties_impossible_to_flip() -> None:
    nodes = {"a": 1.0, "b": 1.0, "c": 1.0}
    first = assign(CAMS, nodes)
    assert first == assign(CAMS, dict(reversed(list(nodes.items()))))  # order of the node list does not matter
    assert set(first.values()) == set(nodes)
    assert preferred("x", {}) is None and assign(CAMS, {}) == {}


def test_balance_follows_capacity() -> None:
    nodes = {"a": 1.0, "b": 2.0, "c": 1.0}
    counts = held_counts(assign(CAMS, nodes), list(nodes))
    want = shares(len(CAMS), nodes)
    assert want == {"a": 150.0, "b": 300.0, "c": 150.0}
    for name, n in counts.items():  # a binomial spread: within 4 standard deviations of the share
        p = nodes[name] / sum(nodes.values())
        assert abs(n - want[name]) <= 4 * (len(CAMS) * p * (1 - p)) ** 0.5, counts


def test_join_moves_only_cameras_to_the_new_node() -> None:
    before = assign(CAMS, {"a": 1.0, "b": 1.0, "c": 1.0})
    after = assign(CAMS, {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0})
    moved = [c for c in CAMS if before[c] != after[c]]
    assert all(after[c] == "d" for c in moved)
    assert 0.15 * len(CAMS) <= len(moved) <= 0.35 * len(CAMS)  # about a quarter, never a reshuffle


def test_leave_moves_only_the_cameras_of_the_node_that_left() -> None:
    before = assign(CAMS, {"a": 1.0, "b": 1.0, "c": 1.0})
    after = assign(CAMS, {"a": 1.0, "c": 1.0})
    moved = {c for c in CAMS if before[c] != after[c]}
    assert moved == {c for c in CAMS if before[c] == "b"}


def test_score_rejects_a_capacity_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        score("a", "cam", 0.0)
