"""Proof generation from stored nodes: read pattern, planning, errors."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping

import pytest

from custody.proofs import (
    Coord,
    InvalidTreeRequest,
    MemoryNodeStore,
    MissingNode,
    NodeConflict,
    TreeError,
    append_leaves,
    consistency_proof,
    consistency_ranges,
    frontier_coords,
    inclusion_proof,
    inclusion_ranges,
    range_coords,
    tree_root,
)
from verify.merkle import EMPTY_ROOT, leaf_hash, root_from_leaf_hashes


class FabricatingSource:
    """Makes up a hash for any node of a tree of `tree_size` leaves and records each read.

    Refuses nodes that are not complete subtrees inside the tree: a plan asking
    for one would be reading data that cannot exist yet.
    """

    def __init__(self, tree_size: int) -> None:
        self.tree_size = tree_size
        self.calls: list[list[Coord]] = []

    def get_nodes(self, coords: Collection[Coord]) -> Mapping[Coord, bytes]:
        self.calls.append(list(coords))
        for level, index in coords:
            assert level >= 0 and index >= 0
            assert (index + 1) << level <= self.tree_size, (level, index)
        return {c: hashlib.sha256(repr(c).encode()).digest() for c in coords}


def _bound(n: int) -> int:
    return 2 * math.ceil(math.log2(n)) + 2 if n > 1 else 2


SIZES = [2, 3, 5, 8, 1000, 2**20 - 1, 2**20, 10**6, 10**6 + 1, 10**7, 10**7 + 12345]


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_proof_reads_once_and_logarithmically(n: int) -> None:
    for index in sorted({0, 1, n // 3, n // 2, n - 2, n - 1}):
        source = FabricatingSource(n)
        proof = inclusion_proof(index, n, source)
        assert len(source.calls) == 1
        assert len(source.calls[0]) == len(set(source.calls[0])) <= _bound(n)
        assert len(proof) <= math.ceil(math.log2(n))


@pytest.mark.parametrize("n", SIZES)
def test_consistency_proof_reads_once_and_logarithmically(n: int) -> None:
    for m in sorted({1, n // 3, n // 2 + 1, n - 1} - {0, n}):
        source = FabricatingSource(n)
        consistency_proof(m, n, source)
        assert len(source.calls) == 1
        assert len(source.calls[0]) <= _bound(n)


@pytest.mark.parametrize("n", SIZES)
def test_root_and_frontier_read_one_node_per_set_bit(n: int) -> None:
    source = FabricatingSource(n)
    tree_root(n, source)
    assert [len(c) for c in source.calls] == [bin(n).count("1")]
    source = FabricatingSource(n)
    new = append_leaves(n, source, [leaf_hash(b"x")])
    assert [len(c) for c in source.calls] == [bin(n).count("1")]
    # The new leaf plus one merged node per trailing 1-bit of the old size.
    trailing_ones = (n ^ (n + 1)).bit_length() - 1
    assert len(new) == 1 + trailing_ones


def test_nothing_to_read_means_no_read() -> None:
    source = FabricatingSource(8)
    assert inclusion_proof(0, 1, source) == []
    assert consistency_proof(5, 5, source) == []
    assert consistency_proof(0, 5, source) == []
    assert tree_root(0, source) == EMPTY_ROOT
    assert append_leaves(8, source, []) == []
    assert append_leaves(0, source, [leaf_hash(b"x")])[0][:2] == (0, 0)
    assert source.calls == []


@pytest.mark.parametrize(
    ("begin", "end", "expected"),
    [
        (0, 0, []),
        (0, 1, [(0, 0)]),
        (0, 7, [(2, 0), (1, 2), (0, 6)]),
        (3, 13, [(0, 3), (2, 1), (2, 2), (0, 12)]),
        (4, 8, [(2, 1)]),
        (5, 6, [(0, 5)]),
    ],
)
def test_range_coords(begin: int, end: int, expected: list[Coord]) -> None:
    assert range_coords(begin, end) == expected


def test_frontier_coords() -> None:
    assert frontier_coords(0) == []
    assert frontier_coords(13) == [(3, 0), (2, 2), (0, 12)]
    assert frontier_coords(16) == [(4, 0)]


def test_planning_ranges_match_the_rfc_shape() -> None:
    # Size 7, leaf 0: siblings b, h, then l = the incomplete [4, 7).
    assert inclusion_ranges(0, 7) == [(1, 2), (2, 4), (4, 7)]
    # Size 5 -> 7: e, f, j, k (proof_test.go of transparency-dev/merkle).
    assert consistency_ranges(5, 7) == [(4, 5), (5, 6), (6, 7), (0, 4)]
    assert consistency_ranges(4, 7) == [(4, 7)]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: inclusion_proof(3, 3, s),
        lambda s: inclusion_proof(-1, 3, s),
        lambda s: inclusion_proof(0, 0, s),
        lambda s: consistency_proof(4, 3, s),
        lambda s: consistency_proof(-1, 3, s),
        lambda s: tree_root(-1, s),
        lambda s: append_leaves(-1, s, [leaf_hash(b"")]),
        lambda s: append_leaves(0, s, [b"short"]),
        lambda s: range_coords(5, 4),
    ],
)
def test_invalid_requests(call: object) -> None:
    with pytest.raises(InvalidTreeRequest):
        call(MemoryNodeStore())  # type: ignore[operator]


def test_invalid_request_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(3, 3, MemoryNodeStore())


def _store(n: int) -> tuple[list[bytes], MemoryNodeStore]:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    store = MemoryNodeStore()
    store.add(append_leaves(0, store, leaves))
    return leaves, store


def test_missing_nodes_are_reported() -> None:
    _, store = _store(5)
    with pytest.raises(MissingNode) as info:
        inclusion_proof(0, 8, store)
    assert info.value.coords == ((2, 1),)
    assert "missing tree node" in str(info.value)
    assert isinstance(info.value, KeyError)
    with pytest.raises(MissingNode):
        append_leaves(6, store, [leaf_hash(b"x")])


class _PlainKeyErrorSource:
    def get_nodes(self, coords: Collection[Coord]) -> Mapping[Coord, bytes]:
        raise KeyError((0, 1))


class _ShortAnswerSource:
    def get_nodes(self, coords: Collection[Coord]) -> Mapping[Coord, bytes]:
        return {}


class _BadHashSource:
    def get_nodes(self, coords: Collection[Coord]) -> Mapping[Coord, bytes]:
        return {c: b"short" for c in coords}


def test_source_failures_become_typed_errors() -> None:
    with pytest.raises(MissingNode) as info:
        inclusion_proof(0, 2, _PlainKeyErrorSource())
    assert info.value.coords == ((0, 1),)
    with pytest.raises(MissingNode):
        tree_root(3, _ShortAnswerSource())
    with pytest.raises(TreeError, match="wrong size"):
        tree_root(3, _BadHashSource())


def test_memory_store_refuses_rewriting_history() -> None:
    leaves, store = _store(4)
    store.add([(0, 0, leaves[0])])  # identical: fine
    with pytest.raises(NodeConflict):
        store.add([(0, 0, leaves[1])])
    assert (0, 0) in store and (5, 0) not in store


def test_append_order_puts_children_before_parents() -> None:
    leaves, store = _store(3)
    created = append_leaves(3, store, [leaf_hash(b"x"), leaf_hash(b"y")])
    coords = [(lv, ix) for lv, ix, _ in created]
    assert coords == [(0, 3), (1, 1), (2, 0), (0, 4)]
    store.add(created)
    assert tree_root(5, store) == root_from_leaf_hashes([*leaves, leaf_hash(b"x"), leaf_hash(b"y")])
