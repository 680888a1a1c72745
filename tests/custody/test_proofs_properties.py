"""Property tests: generated trees and proofs against the verifier and the RFC definitions."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.proofs import (
    MemoryNodeStore,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    tree_root,
)
from tests.verify import rfc9162_reference as rfc
from verify.errors import ConsistencyProofError, InclusionProofError
from verify.merkle import (
    RootAccumulator,
    consistency_proof_length,
    inclusion_proof_length,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX_LEAVES = 1000
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _leaf_data(i: int) -> bytes:
    return b"event-%d" % i


@functools.cache
def _reference_tree() -> tuple[list[bytes], MemoryNodeStore, list[bytes]]:
    """Leaves, node store and the root of every prefix, for a 1000-leaf tree.

    Leaves are distinct, so no two subtrees share a hash and a proof that
    verifies for the wrong position would be a real forgery.
    """
    leaves = [leaf_hash(_leaf_data(i)) for i in range(MAX_LEAVES)]
    store = MemoryNodeStore()
    store.add(append_leaves(0, store, leaves))
    acc = RootAccumulator()
    roots = [acc.root()]
    for lh in leaves:
        acc.append(lh)
        roots.append(acc.root())
    return leaves, store, roots


@st.composite
def batches(draw: st.DrawFn) -> list[int]:
    total = draw(st.integers(min_value=1, max_value=MAX_LEAVES))
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(draw(st.integers(min_value=1, max_value=total - sum(sizes))))
    return sizes


@FAST
@given(batch_sizes=batches(), salt=st.binary(max_size=8))
def test_appending_in_batches_matches_mth(batch_sizes: list[int], salt: bytes) -> None:
    total = sum(batch_sizes)
    leaves = [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(total)]
    store = MemoryNodeStore()
    size = 0
    for count in batch_sizes:
        new = append_leaves(size, store, leaves[size : size + count])
        assert all((lv, ix) not in store for lv, ix, _ in new)
        store.add(new)
        size += count
        assert tree_root(size, store) == root_from_leaf_hashes(leaves[:size])
    # Exactly the complete subtrees exist: floor(n / 2^level) at each level.
    assert len(store) == sum(total >> lv for lv in range(total.bit_length()))


@FAST
@given(data=st.data())
def test_past_roots_come_from_the_grown_store(data: st.DataObject) -> None:
    leaves, store, roots = _reference_tree()
    size = data.draw(st.integers(min_value=0, max_value=MAX_LEAVES))
    assert tree_root(size, store) == roots[size]


@FAST
@given(data=st.data())
def test_inclusion_proofs_verify_and_resist_tampering(data: st.DataObject) -> None:
    leaves, store, roots = _reference_tree()
    size = data.draw(st.integers(min_value=1, max_value=MAX_LEAVES), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    proof = inclusion_proof(index, size, store)
    assert len(proof) == inclusion_proof_length(index, size)
    verify_inclusion(leaves[index], index, size, proof, roots[size])

    def rejected(idx: int, sz: int, prf: list[bytes]) -> None:
        root = roots[sz] if 0 <= sz <= MAX_LEAVES else roots[size]
        with pytest.raises(InclusionProofError):
            verify_inclusion(leaves[index], idx, sz, prf, root)

    if proof:
        which = data.draw(st.integers(0, len(proof) - 1), label="flipped hash")
        bit = data.draw(st.integers(0, 255), label="flipped bit")
        damaged = bytearray(proof[which])
        damaged[bit // 8] ^= 1 << (bit % 8)
        rejected(index, size, [*proof[:which], bytes(damaged), *proof[which + 1 :]])
        dropped = data.draw(st.integers(0, len(proof) - 1), label="dropped")
        rejected(index, size, proof[:dropped] + proof[dropped + 1 :])
    extra = data.draw(st.sampled_from([*proof, roots[size], leaves[index]]), label="extra")
    at = data.draw(st.integers(0, len(proof)), label="inserted at")
    rejected(index, size, [*proof[:at], extra, *proof[at:]])
    others = st.integers(0, size - 1).filter(lambda i: i != index) if size > 1 else st.just(1)
    rejected(data.draw(others, label="index'"), size, proof)
    # A wrong size is rejected against that size's root. (Against the right
    # root it can pass: the proof does not commit to the size, the signed
    # checkpoint does.)
    other_size = data.draw(st.integers(1, MAX_LEAVES).filter(lambda s: s != size), label="size'")
    rejected(index, other_size, proof)


@FAST
@given(data=st.data())
def test_batch_inclusion_proofs_equal_single_ones(data: st.DataObject) -> None:
    """A sealed batch's receipts use the batched form: it must be the same paths."""
    _, store, _ = _reference_tree()
    size = data.draw(st.integers(min_value=1, max_value=MAX_LEAVES), label="tree size")
    first = data.draw(st.integers(min_value=0, max_value=size - 1), label="first")
    last = data.draw(st.integers(min_value=first, max_value=size - 1), label="last")
    extra = data.draw(st.lists(st.integers(0, size - 1), max_size=5), label="unordered")
    indices = [*range(first, last + 1), *extra]
    assert inclusion_proofs(indices, size, store) == [
        inclusion_proof(i, size, store) for i in indices
    ]


@FAST
@given(data=st.data())
def test_consistency_proofs_verify_and_resist_tampering(data: st.DataObject) -> None:
    leaves, store, roots = _reference_tree()
    size2 = data.draw(st.integers(min_value=0, max_value=MAX_LEAVES), label="size2")
    size1 = data.draw(st.integers(min_value=0, max_value=size2), label="size1")
    proof = consistency_proof(size1, size2, store)
    assert len(proof) == consistency_proof_length(size1, size2)
    verify_consistency(size1, size2, proof, roots[size1], roots[size2])

    def rejected(s1: int, s2: int, prf: list[bytes]) -> None:
        r1 = roots[s1] if 0 <= s1 <= MAX_LEAVES else roots[size1]
        r2 = roots[s2] if 0 <= s2 <= MAX_LEAVES else roots[size2]
        with pytest.raises(ConsistencyProofError):
            verify_consistency(s1, s2, prf, r1, r2)

    if proof:
        which = data.draw(st.integers(0, len(proof) - 1), label="flipped hash")
        bit = data.draw(st.integers(0, 255), label="flipped bit")
        damaged = bytearray(proof[which])
        damaged[bit // 8] ^= 1 << (bit % 8)
        rejected(size1, size2, [*proof[:which], bytes(damaged), *proof[which + 1 :]])
        dropped = data.draw(st.integers(0, len(proof) - 1), label="dropped")
        rejected(size1, size2, proof[:dropped] + proof[dropped + 1 :])
    extra = data.draw(st.sampled_from([*proof, roots[size1], roots[size2]]), label="extra")
    at = data.draw(st.integers(0, len(proof)), label="inserted at")
    rejected(size1, size2, [*proof[:at], extra, *proof[at:]])
    if proof:
        # Any other pair of sizes, each with its own true root, must fail:
        # otherwise the proof would vouch for trees it was not made for.
        s1 = data.draw(st.integers(0, MAX_LEAVES), label="size1'")
        s2 = data.draw(st.integers(0, MAX_LEAVES), label="size2'")
        if (s1, s2) != (size1, size2):
            rejected(s1, s2, proof)
        # The real roots swapped in for each other.
        with pytest.raises(ConsistencyProofError):
            verify_consistency(size1, size2, proof, roots[size2], roots[size1])


@pytest.mark.parametrize("size2", range(1, 41))
def test_small_trees_exhaustively_match_the_rfc(size2: int) -> None:
    data = [_leaf_data(i) for i in range(size2)]
    leaves, store, roots = _reference_tree()
    assert roots[size2] == rfc.mth(data)
    for index in range(size2):
        proof = inclusion_proof(index, size2, store)
        assert proof == rfc.path(index, data)
        verify_inclusion(leaves[index], index, size2, proof, roots[size2])
    for size1 in range(size2 + 1):
        proof = consistency_proof(size1, size2, store)
        assert proof == rfc.proof(size1, data)
        verify_consistency(size1, size2, proof, roots[size1], roots[size2])
