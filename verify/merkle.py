"""RFC 9162 (RFC 6962) Merkle tree math: hashing, roots, proof verification.

Pure functions over bytes, nothing of ours but the typed errors, so that an
auditor can check proofs with this module alone. Proof *generation* lives in
`custody.proofs`; both sides share the hashing defined here.

Notation follows RFC 9162 section 2.1: MTH is the Merkle Tree Hash, a tree of
size n is split at k, the largest power of two smaller than n.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from verify.errors import ConsistencyProofError, InclusionProofError

HASH_SIZE = 32

#: MTH({}) = SHA-256 of the empty string (RFC 9162 section 2.1.1).
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


class RootAccumulator:
    """Streaming MTH over leaf hashes, keeping only the compact range.

    The compact range of [0, size) holds one complete-subtree hash per set bit
    of `size`, so a full-ledger audit over 10^7 leaves needs ~24 hashes of
    memory whatever the ledger size.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        # Largest (leftmost) subtree first; sizes follow the bits of _size.
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        _require_hash_size(leaf_hash, "leaf hash", ValueError)
        merged = leaf_hash
        # Each trailing 1-bit of the old size is a complete subtree of the same
        # height as the one being carried, so they merge like a binary counter.
        carry = self._size
        while carry & 1:
            merged = node_hash(self._stack.pop(), merged)
            carry >>= 1
        self._stack.append(merged)
        self._size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        return fold_right(self._stack)


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive complete subtrees given left to right, largest first.

    RFC 9162 splits an incomplete tree so that its left part is complete and
    its right part is the rest, recursively; that is a fold from the right.
    """
    if not hashes:
        raise ValueError("cannot fold an empty list of hashes")
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) for the given leaf hashes."""
    acc = RootAccumulator()
    for h in hashes:
        acc.append(h)
    return acc.root()


def inclusion_proof_length(index: int, tree_size: int) -> int:
    """Number of hashes in the audit path of leaf `index` in a tree of `tree_size`.

    Levels where the paths to `index` and to the last leaf diverge each take
    one sibling; above that, the path runs along the right edge and only takes
    a sibling where a complete left subtree hangs off, i.e. at each set bit.
    """
    _check_index(index, tree_size)
    inner = (index ^ (tree_size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def consistency_proof_length(size1: int, size2: int) -> int:
    """Number of hashes in the consistency proof between two tree sizes."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"need 0 <= size1 <= size2, got {size1}, {size2}")
    if size1 in (0, size2):
        return 0
    # The proof is the audit path of the last old leaf, minus the levels below
    # the largest complete subtree the old tree ends with, plus that subtree's
    # hash unless it is the whole old tree (then the verifier has it: root1).
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = ((size1 - 1) >> inner).bit_count()
    shift = _trailing_zeros(size1)
    seed_in_proof = 0 if _is_power_of_two(size1) else 1
    return seed_in_proof + (inner - shift) + border


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Root implied by an audit path (RFC 9162 section 2.1.3.2, steps 1-4).

    Raises InclusionProofError when the inputs cannot form a proof at all.
    """
    if not 0 <= index < tree_size:
        raise InclusionProofError(f"leaf index {index} is out of range for tree size {tree_size}")
    _require_hash_size(leaf_hash, "leaf hash", InclusionProofError)
    _check_proof_hashes(proof, InclusionProofError)
    expected = inclusion_proof_length(index, tree_size)
    if len(proof) != expected:
        raise InclusionProofError(
            f"truncated or padded proof: {len(proof)} hashes, a tree of size "
            f"{tree_size} needs {expected} for leaf {index}"
        )
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise InclusionProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # Levels where this node is the right edge's only child add no hash.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionProofError("proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is leaf `index` of the tree of `tree_size` with `root`."""
    _require_hash_size(root, "root hash", InclusionProofError)
    computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    if computed != root:
        raise InclusionProofError(
            f"root mismatch: proof for leaf {index} of tree size {tree_size} "
            f"leads to {computed.hex()}, expected {root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree (size2, root2) extends the tree (size1, root1).

    RFC 9162 section 2.1.4.2, plus the two trivial cases the RFC leaves out:
    equal sizes need equal roots and an empty proof; the empty tree is a prefix
    of every tree, but its root must then really be the empty root.
    """
    _require_hash_size(root1, "first root hash", ConsistencyProofError)
    _require_hash_size(root2, "second root hash", ConsistencyProofError)
    if size1 < 0 or size2 < size1:
        raise ConsistencyProofError(f"tree sizes go backwards or are negative: {size1} -> {size2}")
    _check_proof_hashes(proof, ConsistencyProofError)
    expected = consistency_proof_length(size1, size2)
    if len(proof) != expected:
        raise ConsistencyProofError(
            f"truncated or padded proof: {len(proof)} hashes, sizes {size1} -> "
            f"{size2} need {expected}"
        )
    if size1 == size2:
        if root1 != root2:
            raise ConsistencyProofError(f"two different roots for the same tree size {size1}")
        return
    if size1 == 0:
        if root1 != EMPTY_ROOT:
            raise ConsistencyProofError("first root is not the empty tree's root")
        return
    fr, sr = _roots_from_consistency_path(size1, size2, proof, root1)
    if fr != root1:
        raise ConsistencyProofError(
            f"proof does not lead to the first root (size {size1}): got "
            f"{fr.hex()}, expected {root1.hex()}"
        )
    if sr != root2:
        raise ConsistencyProofError(
            f"root mismatch: proof leads to {sr.hex()} for size {size2}, expected {root2.hex()}"
        )


def _roots_from_consistency_path(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> tuple[bytes, bytes]:
    """Steps 2-6 of RFC 9162 section 2.1.4.2: the (first, second) roots implied."""
    path = list(proof)
    # A power-of-two old tree is one complete subtree, which the proof omits
    # because the verifier already holds it.
    if _is_power_of_two(size1):
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyProofError("proof is shorter than the path to the root")
    return fr, sr


def _check_index(index: int, tree_size: int) -> None:
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is out of range for tree size {tree_size}")


def _check_proof_hashes(
    proof: Sequence[bytes], error: type[InclusionProofError] | type[ConsistencyProofError]
) -> None:
    for i, h in enumerate(proof):
        _require_hash_size(h, f"proof hash {i}", error)


def _require_hash_size(value: bytes, what: str, error: type[Exception]) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what} has {len(value)} bytes, expected {HASH_SIZE}")


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1
