"""RFC 9162 proof generation from stored complete-subtree hashes.

The ledger stores the hash of every complete aligned subtree, addressed by
`(level, index)`: the subtree over leaves [index * 2**level, (index+1) * 2**level).
Level 0 holds the leaf hashes. Every node of an RFC 9162 tree is either such a
complete subtree or the fold of a few of them, so any proof or root needs only
O(log n) stored hashes.

Each public function first *plans* the coordinates it needs (pure integer
arithmetic), reads them with a single `NodeSource.get_nodes` call (none when
nothing is needed, e.g. a one-leaf tree), then folds them. That keeps a proof
at 10^7 leaves to one database round trip of at most ~2 * log2(n) rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from verify.merkle import EMPTY_ROOT, HASH_SIZE, fold_right, node_hash

Coord = tuple[int, int]
#: A half-open leaf range [begin, end).
LeafRange = tuple[int, int]


class TreeError(Exception):
    """Proof generation or tree update failed."""


class MissingNode(TreeError, KeyError):
    """The node source lacks hashes the requested tree size needs.

    Also a KeyError, so a source may simply let a mapping lookup fail.
    """

    def __init__(self, coords: Iterable[Coord]) -> None:
        self.coords: tuple[Coord, ...] = tuple(sorted(coords))
        super().__init__(self.coords)

    def __str__(self) -> str:
        shown = ", ".join(f"({lvl}, {idx})" for lvl, idx in self.coords[:8])
        more = f" and {len(self.coords) - 8} more" if len(self.coords) > 8 else ""
        return f"missing tree node(s) (level, index): {shown}{more}"


class InvalidTreeRequest(TreeError, ValueError):
    """Arguments describe no valid proof: index past the tree, sizes backwards, ..."""


class NodeConflict(TreeError):
    """A stored node would be replaced by a different hash: history rewritten."""


class NodeSource(Protocol):
    """Read access to stored complete-subtree hashes."""

    def get_nodes(self, coords: Collection[Coord]) -> Mapping[Coord, bytes]:
        """Hashes for all `coords`; raises KeyError (e.g. MissingNode) if any is absent."""
        ...


class MemoryNodeStore(NodeSource):
    """Dict-backed node store for tests and for one sequencer batch."""

    def __init__(self, nodes: Iterable[tuple[int, int, bytes]] = ()) -> None:
        self._nodes: dict[Coord, bytes] = {}
        self.add(nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, coord: object) -> bool:
        return coord in self._nodes

    def add(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        """Store nodes; re-adding an identical node is a no-op, a different hash is refused."""
        for level, index, digest in nodes:
            coord = (level, index)
            known = self._nodes.get(coord)
            if known is not None and known != digest:
                raise NodeConflict(f"node ({level}, {index}) already holds another hash")
            self._nodes[coord] = digest

    def get_nodes(self, coords: Collection[Coord]) -> dict[Coord, bytes]:
        missing = [c for c in coords if c not in self._nodes]
        if missing:
            raise MissingNode(missing)
        return {c: self._nodes[c] for c in coords}


# --- planning: pure integer arithmetic -------------------------------------------------


def range_coords(begin: int, end: int) -> list[Coord]:
    """Aligned complete subtrees covering [begin, end), left to right.

    Greedy: at each step take the largest subtree that starts at `begin`
    (limited by its alignment) and still fits. At most 2 * log2(end - begin)
    nodes. For an RFC 9162 subtree (begin aligned to the range's width), the
    sizes are decreasing, so `fold_right` of their hashes is MTH(D[begin:end]).
    """
    if not 0 <= begin <= end:
        raise InvalidTreeRequest(f"invalid leaf range [{begin}, {end})")
    coords: list[Coord] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, _trailing_zeros(begin))
        coords.append((level, begin >> level))
        begin += 1 << level
    return coords


def frontier_coords(tree_size: int) -> list[Coord]:
    """The right-edge nodes of a tree: one complete subtree per set bit of its size."""
    return range_coords(0, _check_size(tree_size))


def inclusion_ranges(index: int, tree_size: int) -> list[LeafRange]:
    """Leaf ranges whose MTHs form the audit path PATH(index, D[tree_size]).

    RFC 9162 section 2.1.3.1, unrolled from the root down; the RFC lists the
    deepest sibling first, hence the final reversal.
    """
    _check_size(tree_size)
    if not 0 <= index < tree_size:
        raise InvalidTreeRequest(f"leaf index {index} is out of range for tree size {tree_size}")
    siblings: list[LeafRange] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        mid = lo + _split_point(hi - lo)
        if index < mid:
            siblings.append((mid, hi))
            hi = mid
        else:
            siblings.append((lo, mid))
            lo = mid
    siblings.reverse()
    return siblings


def consistency_ranges(size1: int, size2: int) -> list[LeafRange]:
    """Leaf ranges whose MTHs form PROOF(size1, D[size2]) (RFC 9162 section 2.1.4.1).

    Empty for size1 == 0 and size1 == size2: nothing needs proving there.
    """
    _check_size(size1)
    _check_size(size2)
    if size1 > size2:
        raise InvalidTreeRequest(f"tree sizes go backwards: {size1} -> {size2}")
    if size1 in (0, size2):
        return []
    nodes: list[LeafRange] = []
    lo, hi = 0, size2
    # Whether [lo, hi) is still the whole tree the old tree starts: then its
    # root is the verifier's own root1 and is left out of the proof.
    whole_old_tree = True
    while hi != size1:
        mid = lo + _split_point(hi - lo)
        if size1 <= mid:
            nodes.append((mid, hi))
            hi = mid
        else:
            nodes.append((lo, mid))
            lo = mid
            whole_old_tree = False
    if not whole_old_tree:
        nodes.append((lo, hi))
    nodes.reverse()
    return nodes


def coords_for(ranges: Iterable[LeafRange]) -> set[Coord]:
    """Every stored node the given ranges fold from."""
    return {c for begin, end in ranges for c in range_coords(begin, end)}


# --- assembly: one read, then folding ---------------------------------------------------


def inclusion_proof(index: int, tree_size: int, source: NodeSource) -> list[bytes]:
    """Audit path for leaf `index` in the tree of `tree_size` leaves."""
    return _range_hashes(inclusion_ranges(index, tree_size), source)


def inclusion_proofs(
    indices: Sequence[int], tree_size: int, source: NodeSource
) -> list[list[bytes]]:
    """Audit paths of many leaves of one tree, with one read: a sealed batch's receipts.

    Neighbouring leaves share most of their path (every sibling above their common
    ancestor), so each distinct range is folded once, not once per leaf.
    """
    plans = [inclusion_ranges(i, tree_size) for i in indices]
    distinct = list({r for plan in plans for r in plan})
    folded = dict(zip(distinct, _range_hashes(distinct, source), strict=True))
    return [[folded[r] for r in plan] for plan in plans]


def consistency_proof(size1: int, size2: int, source: NodeSource) -> list[bytes]:
    """Proof that the tree of `size2` leaves extends the tree of `size1` leaves."""
    return _range_hashes(consistency_ranges(size1, size2), source)


def tree_root(tree_size: int, source: NodeSource) -> bytes:
    """MTH of the first `tree_size` leaves."""
    if _check_size(tree_size) == 0:
        return EMPTY_ROOT
    (root,) = _range_hashes([(0, tree_size)], source)
    return root


def append_leaves(
    tree_size: int, source: NodeSource, leaf_hashes: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """New complete nodes (level, index, hash) created by appending `leaf_hashes`.

    Includes the level-0 nodes of the new leaves themselves. Needs only the
    frontier of the existing tree, read in one call. Node order: a node comes
    after both of its children.
    """
    _check_size(tree_size)
    for i, h in enumerate(leaf_hashes):
        if len(h) != HASH_SIZE:
            raise InvalidTreeRequest(f"leaf hash {i} has {len(h)} bytes, expected {HASH_SIZE}")
    if not leaf_hashes:
        return []
    frontier = frontier_coords(tree_size)
    fetched = _fetch(source, frontier)
    # The stack is the compact range of [0, size): (level, index, hash),
    # largest subtree first, exactly one per set bit of size.
    stack = [(level, index, fetched[(level, index)]) for level, index in frontier]
    created: list[tuple[int, int, bytes]] = []
    size = tree_size
    for h in leaf_hashes:
        node = (0, size, h)
        created.append(node)
        # Trailing 1-bits of the old size are complete left siblings of equal
        # height: merge them like a binary counter carries.
        carry = size
        while carry & 1:
            left_level, left_index, left_hash = stack.pop()
            node = (left_level + 1, left_index >> 1, node_hash(left_hash, node[2]))
            created.append(node)
            carry >>= 1
        stack.append(node)
        size += 1
    return created


def _range_hashes(ranges: Sequence[LeafRange], source: NodeSource) -> list[bytes]:
    plans = [range_coords(begin, end) for begin, end in ranges]
    fetched = _fetch(source, {c for plan in plans for c in plan})
    return [fold_right([fetched[c] for c in plan]) for plan in plans]


def _fetch(source: NodeSource, coords: Collection[Coord]) -> Mapping[Coord, bytes]:
    """One read of all `coords`, refusing partial or malformed answers."""
    if not coords:
        return {}
    try:
        fetched = source.get_nodes(coords)
    except MissingNode:
        raise
    except KeyError as exc:
        # A plain KeyError names at most one key; report that one if it is ours.
        key = exc.args[0] if exc.args else None
        raise MissingNode([key] if isinstance(key, tuple) and key in coords else coords) from exc
    missing = [c for c in coords if c not in fetched]
    if missing:
        raise MissingNode(missing)
    bad = [c for c in coords if len(fetched[c]) != HASH_SIZE]
    if bad:
        raise TreeError(f"stored node(s) with a hash of the wrong size: {sorted(bad)[:8]}")
    return fetched


def _split_point(n: int) -> int:
    """k of RFC 9162: the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(tree_size: int) -> int:
    if tree_size < 0:
        raise InvalidTreeRequest(f"negative tree size {tree_size}")
    return tree_size


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1
