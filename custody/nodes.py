"""Tree-node sources backed by the database, and layering over in-memory nodes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import Connection, insert, select, tuple_

from custody.models import TreeNode
from custody.proofs import MissingNode, NodeSource

Coord = tuple[int, int]
_CHUNK = 400  # keeps each query under every backend's bound-parameter limit


class DbNodeSource:
    """Reads complete-subtree hashes; one query per proof (chunked only for huge batches)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_nodes(self, coords: Collection[Coord]) -> Mapping[Coord, bytes]:
        found: dict[Coord, bytes] = {}
        wanted = list(coords)
        table = TreeNode.__table__  # type: ignore[attr-defined]
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            # One expanding tuple IN: its SQL is compiled once and cached, where an OR of
            # per-node conditions was a new expression tree to build for every proof.
            cond = tuple_(table.c.level, table.c.index).in_(chunk)
            for level, index, digest in self._conn.execute(
                select(table.c.level, table.c.index, table.c.hash).where(cond)
            ):
                found[(level, index)] = bytes(digest)
        missing = [c for c in wanted if c not in found]
        if missing:
            raise MissingNode(missing)
        return found


class LayeredNodeSource:
    """Nodes from memory first (the batch being sealed and what was read), the rest from below.

    Sealing a batch reads the old frontier once; every proof for the batch is then
    answered from memory, because the left siblings of new leaves are frontier nodes.
    """

    def __init__(self, below: NodeSource) -> None:
        self.nodes: dict[Coord, bytes] = {}
        self._below = below

    def add(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        for level, index, digest in nodes:
            self.nodes[(level, index)] = digest

    def get_nodes(self, coords: Collection[Coord]) -> Mapping[Coord, bytes]:
        rest = [c for c in coords if c not in self.nodes]
        if rest:
            self.nodes.update(self._below.get_nodes(rest))
        return {c: self.nodes[c] for c in coords}


def insert_nodes(conn: Connection, nodes: Iterable[tuple[int, int, bytes]]) -> None:
    rows = [{"level": lv, "index": ix, "hash": h} for lv, ix, h in nodes]
    if rows:
        conn.execute(insert(TreeNode.__table__), rows)  # type: ignore[attr-defined]
