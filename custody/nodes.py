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
        read = _sqlite_rows if self._conn.dialect.name == "sqlite" else _rows
        for start in range(0, len(wanted), _CHUNK):
            for level, index, digest in read(self._conn, wanted[start : start + _CHUNK]):
                found[(level, index)] = bytes(digest)
        missing = [c for c in wanted if c not in found]
        if missing:
            raise MissingNode(missing)
        return found


_NODES = TreeNode.__table__  # type: ignore[attr-defined]


def _rows(conn: Connection, chunk: list[Coord]) -> Iterable[tuple[int, int, bytes]]:
    # One expanding tuple IN: its SQL is compiled once and cached, where an OR of
    # per-node conditions was a new expression tree to build for every proof.
    # PostgreSQL answers it from the primary key.
    cond = tuple_(_NODES.c.level, _NODES.c.index).in_(chunk)
    return conn.execute(select(_NODES.c.level, _NODES.c.index, _NODES.c.hash).where(cond))


_SQLITE_JOIN: dict[int, str] = {}


def _sqlite_rows(conn: Connection, chunk: list[Coord]) -> Iterable[tuple[int, int, bytes]]:
    # SQLite (3.40) plans a row-value IN as a scan of the whole table: every proof and
    # every seal read all the nodes, linear in the ledger's size. Joined to a VALUES
    # list, each coordinate is one primary-key search.
    sql = _SQLITE_JOIN.get(len(chunk))
    if sql is None:
        pairs = ",".join(["(?,?)"] * len(chunk))
        sql = _SQLITE_JOIN[len(chunk)] = (
            f'SELECT t.level, t."index", t.hash FROM (VALUES {pairs}) AS v '
            f'JOIN {_NODES.name} AS t ON t.level = v.column1 AND t."index" = v.column2'
        )
    params = tuple(x for coord in chunk for x in coord)
    return conn.exec_driver_sql(sql, params)


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
