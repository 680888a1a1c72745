"""Edge cases and error reporting of the verifier side of the Merkle math."""

from __future__ import annotations

import hashlib

import pytest

from verify.errors import ConsistencyProofError, InclusionProofError
from verify.merkle import (
    EMPTY_ROOT,
    RootAccumulator,
    consistency_proof_length,
    fold_right,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

A = leaf_hash(b"a")
B = leaf_hash(b"b")
C = leaf_hash(b"c")
AB = node_hash(A, B)
ABC = node_hash(AB, C)


def test_hash_definitions() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(A, B) == hashlib.sha256(b"\x01" + A + B).digest()
    # Domain separation: a leaf whose data looks like two hashes is not a node.
    assert leaf_hash(A + B) != node_hash(A, B)


def test_root_from_leaf_hashes_small() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert root_from_leaf_hashes([A]) == A
    assert root_from_leaf_hashes([A, B, C]) == ABC


def test_accumulator_keeps_logarithmic_state() -> None:
    acc = RootAccumulator()
    assert (acc.size, acc.root()) == (0, EMPTY_ROOT)
    for i in range(1000):
        acc.append(leaf_hash(i.to_bytes(4, "big")))
    assert acc.size == 1000
    # One stored hash per set bit of the size.
    assert len(acc._stack) == bin(1000).count("1")


def test_accumulator_rejects_non_hashes() -> None:
    with pytest.raises(ValueError, match="31 bytes"):
        RootAccumulator().append(b"\x00" * 31)


def test_fold_right_needs_input() -> None:
    with pytest.raises(ValueError):
        fold_right([])


# --- inclusion ----------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (3, 3), (-1, 3), (0, -1)])
def test_inclusion_index_out_of_range(index: int, size: int) -> None:
    with pytest.raises(InclusionProofError, match="out of range"):
        verify_inclusion(A, index, size, [], A)


def test_inclusion_wrong_proof_length() -> None:
    with pytest.raises(InclusionProofError, match="truncated or padded proof"):
        verify_inclusion(A, 0, 3, [B], ABC)
    with pytest.raises(InclusionProofError, match="truncated or padded proof"):
        verify_inclusion(A, 0, 3, [B, C, C], ABC)
    with pytest.raises(InclusionProofError, match="truncated or padded proof"):
        verify_inclusion(A, 0, 1, [B], A)


def test_inclusion_hash_of_wrong_length() -> None:
    with pytest.raises(InclusionProofError, match="leaf hash has 3 bytes"):
        verify_inclusion(b"abc", 0, 3, [B, C], ABC)
    with pytest.raises(InclusionProofError, match="proof hash 1 has 33 bytes"):
        verify_inclusion(A, 0, 3, [B, C + b"\x00"], ABC)
    with pytest.raises(InclusionProofError, match="root hash has 0 bytes"):
        verify_inclusion(A, 0, 3, [B, C], b"")


def test_inclusion_root_mismatch() -> None:
    verify_inclusion(C, 2, 3, [AB], ABC)
    with pytest.raises(InclusionProofError, match="root mismatch"):
        verify_inclusion(C, 2, 3, [AB], AB)
    with pytest.raises(InclusionProofError, match="root mismatch"):
        verify_inclusion(B, 2, 3, [AB], ABC)


def test_inclusion_single_leaf_tree() -> None:
    assert root_from_inclusion_proof(A, 0, 1, []) == A
    verify_inclusion(A, 0, 1, [], A)
    with pytest.raises(InclusionProofError, match="root mismatch"):
        verify_inclusion(A, 0, 1, [], B)


def test_error_carries_check_name() -> None:
    with pytest.raises(InclusionProofError) as info:
        verify_inclusion(A, 0, 1, [], B)
    assert info.value.check == "inclusion"


# --- consistency --------------------------------------------------------------------


def test_consistency_trivial_cases() -> None:
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    verify_consistency(0, 3, [], EMPTY_ROOT, ABC)
    verify_consistency(3, 3, [], ABC, ABC)


def test_consistency_equal_sizes_need_equal_roots() -> None:
    with pytest.raises(ConsistencyProofError, match="two different roots"):
        verify_consistency(3, 3, [], ABC, AB)


def test_consistency_equal_sizes_need_an_empty_proof() -> None:
    with pytest.raises(ConsistencyProofError, match="truncated or padded proof"):
        verify_consistency(3, 3, [A], ABC, ABC)


def test_consistency_from_empty_tree() -> None:
    with pytest.raises(ConsistencyProofError, match="empty tree"):
        verify_consistency(0, 3, [], A, ABC)
    with pytest.raises(ConsistencyProofError, match="truncated or padded proof"):
        verify_consistency(0, 3, [EMPTY_ROOT], EMPTY_ROOT, ABC)


def test_consistency_sizes_backwards() -> None:
    with pytest.raises(ConsistencyProofError, match="backwards"):
        verify_consistency(3, 2, [], ABC, AB)
    with pytest.raises(ConsistencyProofError, match="backwards"):
        verify_consistency(-1, 2, [], ABC, AB)


def test_consistency_wrong_length_and_bad_hashes() -> None:
    verify_consistency(2, 3, [C], AB, ABC)
    with pytest.raises(ConsistencyProofError, match="truncated or padded proof"):
        verify_consistency(2, 3, [], AB, ABC)
    with pytest.raises(ConsistencyProofError, match="truncated or padded proof"):
        verify_consistency(2, 3, [C, C], AB, ABC)
    with pytest.raises(ConsistencyProofError, match="proof hash 0 has 2 bytes"):
        verify_consistency(2, 3, [b"no"], AB, ABC)
    with pytest.raises(ConsistencyProofError, match="first root hash has 1 bytes"):
        verify_consistency(2, 3, [C], b"x", ABC)
    with pytest.raises(ConsistencyProofError, match="second root hash has 1 bytes"):
        verify_consistency(2, 3, [C], AB, b"x")


def test_consistency_distinguishes_which_root_fails() -> None:
    # [A, B, C] -> proof from size 1 to 3 is [B, C].
    verify_consistency(1, 3, [B, C], A, ABC)
    with pytest.raises(ConsistencyProofError, match="root mismatch"):
        verify_consistency(1, 3, [B, C], A, AB)
    # Size 2 is a power of two: root1 seeds the path, so only root2 can mismatch.
    with pytest.raises(ConsistencyProofError, match="root mismatch"):
        verify_consistency(2, 3, [C], AB, node_hash(AB, A))
    d = leaf_hash(b"d")
    abcd = node_hash(AB, node_hash(C, d))
    # From size 3 the proof carries the old tree's pieces: C, D, AB.
    verify_consistency(3, 4, [C, d, AB], ABC, abcd)
    with pytest.raises(ConsistencyProofError, match="first root"):
        verify_consistency(3, 4, [C, d, AB], node_hash(AB, d), abcd)


@pytest.mark.parametrize(
    ("size1", "size2", "length"),
    [(1, 1, 0), (0, 5, 0), (1, 8, 3), (6, 8, 3), (2, 5, 2), (6, 7, 3), (4, 7, 1), (7, 8, 4)],
)
def test_consistency_proof_length(size1: int, size2: int, length: int) -> None:
    assert consistency_proof_length(size1, size2) == length


@pytest.mark.parametrize(
    ("index", "size", "length"), [(0, 1, 0), (0, 8, 3), (5, 8, 3), (2, 3, 1), (1, 5, 3), (6, 7, 2)]
)
def test_inclusion_proof_length(index: int, size: int, length: int) -> None:
    assert inclusion_proof_length(index, size) == length


def test_proof_length_helpers_reject_bad_arguments() -> None:
    with pytest.raises(ValueError):
        inclusion_proof_length(3, 3)
    with pytest.raises(ValueError):
        consistency_proof_length(4, 3)
