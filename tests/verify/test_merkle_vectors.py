"""The RFC 6962 reference tree: 8 leaves, published node hashes, roots and proofs.

Expected values come from transparency-dev/merkle (testonly/constants.go,
proof/verify_test.go, proof/proof_test.go), the successor of the
certificate-transparency-go test vectors. Proofs for the (index, size) and
(size1, size2) pairs not published there are checked against a literal
transcription of the RFC 9162 definitions.
"""

from __future__ import annotations

import pytest

from custody.proofs import (
    MemoryNodeStore,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    tree_root,
)
from tests.verify import rfc9162_reference as rfc
from verify.errors import ConsistencyProofError, InclusionProofError
from verify.merkle import (
    EMPTY_ROOT,
    RootAccumulator,
    fold_right,
    leaf_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

# NODES[level][index]: every complete subtree of the 8-leaf tree.
NODES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# ROOTS[n]: MTH of the first n leaves.
ROOTS = [
    EMPTY_ROOT,
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# (leaf index, tree size, audit path), verify_test.go (which numbers leaves from 1).
PUBLISHED_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

PUBLISHED_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# proof_test.go lists proofs as node IDs (level, index); a tuple of IDs stands
# for the fold of those complete subtrees (its "rehash"), given left to right.
NodeRef = tuple[int, int] | tuple[tuple[int, int], ...]
PUBLISHED_INCLUSION_NODES: list[tuple[int, int, list[NodeRef]]] = [
    (0, 2, [(0, 1)]),
    (1, 2, [(0, 0)]),
    (1, 3, [(0, 0), (0, 2)]),
    (0, 7, [(0, 1), (1, 1), ((1, 2), (0, 6))]),
    (1, 7, [(0, 0), (1, 1), ((1, 2), (0, 6))]),
    (2, 7, [(0, 3), (1, 0), ((1, 2), (0, 6))]),
    (3, 7, [(0, 2), (1, 0), ((1, 2), (0, 6))]),
    (4, 7, [(0, 5), (0, 6), (2, 0)]),
    (5, 7, [(0, 4), (0, 6), (2, 0)]),
    (6, 7, [(1, 2), (2, 0)]),
    (2, 4, [(0, 3), (1, 0)]),
    (3, 5, [(0, 2), (1, 0), (0, 4)]),
    (3, 6, [(0, 2), (1, 0), (1, 2)]),
    (4, 6, [(0, 5), (2, 0)]),
]
PUBLISHED_CONSISTENCY_NODES: list[tuple[int, int, list[NodeRef]]] = [
    (1, 2, [(0, 1)]),
    (1, 4, [(0, 1), (1, 1)]),
    (1, 6, [(0, 1), (1, 1), (1, 2)]),
    (2, 3, [(0, 2)]),
    (2, 8, [(1, 1), (2, 1)]),
    (3, 7, [(0, 2), (0, 3), (1, 0), ((1, 2), (0, 6))]),
    (4, 7, [((1, 2), (0, 6))]),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)]),
    (6, 7, [(1, 2), (0, 6), (2, 0)]),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)]),
    (2, 4, [(1, 1)]),
    (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)]),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)]),
    (4, 6, [(1, 2)]),
    (1, 7, [(0, 1), (1, 1), ((1, 2), (0, 6))]),
]

ALL_INCLUSION = [(i, n) for n in range(1, 9) for i in range(n)]
ALL_CONSISTENCY = [(m, n) for n in range(0, 9) for m in range(0, n + 1)]
LEAF_HASHES = [leaf_hash(d) for d in LEAVES]


def _resolve(ref: NodeRef) -> bytes:
    if isinstance(ref[0], tuple):
        return fold_right([NODES[lv][ix] for lv, ix in ref])
    level, index = ref
    return NODES[level][index]


@pytest.fixture(scope="module")
def store() -> MemoryNodeStore:
    """The reference tree grown in uneven batches, as the sequencer would."""
    s = MemoryNodeStore()
    size = 0
    for batch in ([0], [1, 2], [3], [4, 5, 6, 7]):
        s.add(append_leaves(size, s, [LEAF_HASHES[i] for i in batch]))
        size += len(batch)
    return s


def test_leaf_hashes_are_the_published_level_zero() -> None:
    assert NODES[0] == LEAF_HASHES


def test_append_leaves_stores_exactly_the_published_nodes(store: MemoryNodeStore) -> None:
    expected = {(lv, ix): d for lv, row in enumerate(NODES) for ix, d in enumerate(row)}
    assert len(store) == len(expected)
    assert store.get_nodes(list(expected)) == expected


@pytest.mark.parametrize("size", range(0, 9))
def test_roots(size: int, store: MemoryNodeStore) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOTS[size]
    assert tree_root(size, store) == ROOTS[size]
    assert rfc.mth(LEAVES[:size]) == ROOTS[size]
    acc = RootAccumulator()
    for lh in LEAF_HASHES[:size]:
        acc.append(lh)
    assert (acc.size, acc.root()) == (size, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "expected"), PUBLISHED_INCLUSION)
def test_published_inclusion_proofs(
    index: int, size: int, expected: list[bytes], store: MemoryNodeStore
) -> None:
    assert inclusion_proof(index, size, store) == expected
    verify_inclusion(LEAF_HASHES[index], index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("size1", "size2", "expected"), PUBLISHED_CONSISTENCY)
def test_published_consistency_proofs(
    size1: int, size2: int, expected: list[bytes], store: MemoryNodeStore
) -> None:
    assert consistency_proof(size1, size2, store) == expected
    verify_consistency(size1, size2, expected, ROOTS[size1], ROOTS[size2])


@pytest.mark.parametrize(("index", "size", "refs"), PUBLISHED_INCLUSION_NODES)
def test_published_inclusion_node_ids(
    index: int, size: int, refs: list[NodeRef], store: MemoryNodeStore
) -> None:
    assert inclusion_proof(index, size, store) == [_resolve(r) for r in refs]


@pytest.mark.parametrize(("size1", "size2", "refs"), PUBLISHED_CONSISTENCY_NODES)
def test_published_consistency_node_ids(
    size1: int, size2: int, refs: list[NodeRef], store: MemoryNodeStore
) -> None:
    assert consistency_proof(size1, size2, store) == [_resolve(r) for r in refs]


@pytest.mark.parametrize(("index", "size"), ALL_INCLUSION)
def test_every_inclusion_path(index: int, size: int, store: MemoryNodeStore) -> None:
    proof = inclusion_proof(index, size, store)
    assert proof == rfc.path(index, LEAVES[:size])
    assert root_from_inclusion_proof(LEAF_HASHES[index], index, size, proof) == ROOTS[size]
    verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("size1", "size2"), ALL_CONSISTENCY)
def test_every_consistency_proof(size1: int, size2: int, store: MemoryNodeStore) -> None:
    proof = consistency_proof(size1, size2, store)
    assert proof == rfc.proof(size1, LEAVES[:size2])
    verify_consistency(size1, size2, proof, ROOTS[size1], ROOTS[size2])


def _flip(proof: list[bytes], which: int, bit: int) -> list[bytes]:
    damaged = bytearray(proof[which])
    damaged[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:which], bytes(damaged), *proof[which + 1 :]]


def test_every_single_bit_flip_breaks_every_inclusion_proof(store: MemoryNodeStore) -> None:
    for index, size in ALL_INCLUSION:
        proof = inclusion_proof(index, size, store)
        for which in range(len(proof)):
            for bit in range(256):
                with pytest.raises(InclusionProofError, match="root mismatch"):
                    verify_inclusion(
                        LEAF_HASHES[index], index, size, _flip(proof, which, bit), ROOTS[size]
                    )


def test_every_single_bit_flip_breaks_every_consistency_proof(store: MemoryNodeStore) -> None:
    for size1, size2 in ALL_CONSISTENCY:
        proof = consistency_proof(size1, size2, store)
        for which in range(len(proof)):
            for bit in range(256):
                with pytest.raises(ConsistencyProofError, match="root"):
                    verify_consistency(
                        size1, size2, _flip(proof, which, bit), ROOTS[size1], ROOTS[size2]
                    )


@pytest.mark.parametrize(("index", "size"), ALL_INCLUSION)
def test_corrupted_inclusion_probes_fail(index: int, size: int, store: MemoryNodeStore) -> None:
    """The probe set of transparency-dev's verifier tests, for every (index, size)."""
    proof = inclusion_proof(index, size, store)
    leaf, root = LEAF_HASHES[index], ROOTS[size]
    other = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, other),
        (leaf, index, size, [*proof, b""], root),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [b"", *proof], root),
        (leaf, index, size, [root, *proof], root),
    ]
    if proof:
        probes.append((leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], other, *proof[1:]], root))
    for probe in probes:
        with pytest.raises(InclusionProofError):
            verify_inclusion(*probe)


@pytest.mark.parametrize(("size1", "size2"), [(m, n) for m, n in ALL_CONSISTENCY if 0 < m < n])
def test_corrupted_consistency_probes_fail(size1: int, size2: int, store: MemoryNodeStore) -> None:
    proof = consistency_proof(size1, size2, store)
    r1, r2 = ROOTS[size1], ROOTS[size2]
    wrong = leaf_hash(b"WrongRoot")
    probes: list[tuple[int, int, list[bytes], bytes, bytes]] = [
        (size1 - 1, size2, proof, r1, r2),
        (size1 + 1, size2, proof, r1, r2),
        (size1 ^ 2, size2, proof, r1, r2),
        (size1, size2 * 2, proof, r1, r2),
        (size1, size2 // 2, proof, r1, r2),
        (size1, size2, proof, wrong, r2),
        (size1, size2, proof, r1, wrong),
        (size1, size2, proof, r2, r1),
        (size1, size2, [], r1, r2),
        (size1, size2, [*proof, b""], r1, r2),
        (size1, size2, [*proof, r1], r1, r2),
        (size1, size2, [*proof, r2], r1, r2),
        (size1, size2, [b"", *proof], r1, r2),
        (size1, size2, [r1, *proof], r1, r2),
        (size1, size2, [r2, *proof], r1, r2),
        (size1, size2, [proof[0], *proof], r1, r2),
        (size1, size2, proof[:-1], r1, r2),
    ]
    for probe in probes:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(*probe)
