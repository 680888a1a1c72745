"""Recreate the ledger index from the write-once archive alone (disaster recovery)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, func, insert, select

from custody.archive import iter_seals, read_timestamps
from custody.ledger import chain_to_pem, upsert_heads
from custody.models import CheckpointRow, LedgerEvent, TimestampRow
from custody.nodes import LayeredNodeSource, insert_nodes
from custody.proofs import MemoryNodeStore, append_leaves, frontier_coords
from storage.base import ObjectStore
from verify.checkpoint import parse_checkpoint_body
from verify.events import Event, decode_event
from verify.merkle import leaf_hash
from verify.note import parse_note

_EVENTS = LedgerEvent.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_TIMESTAMPS = TimestampRow.__table__  # type: ignore[attr-defined]


class IndexNotEmpty(Exception):
    """Rebuild refuses to write into a database that already holds ledger data."""


def rebuild_ledger(
    engine: Engine,
    store: ObjectStore,
    on_event: Callable[[int, Event], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replay every archived seal into an empty index; returns the number of events.

    `on_event` lets the service rebuild its own tables (cases, artifacts) from the same
    events, in ledger order.
    """
    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(_EVENTS)).scalar_one():
            raise IndexNotEmpty(
                "the database already holds ledger events; rebuild needs an empty one"
            )
    frontier = MemoryNodeStore()
    size = 0
    for seal in iter_seals(store):
        if seal.first != size:
            raise ValueError(
                f"archive gap: seal {seal.key} starts at {seal.first}, expected {size}"
            )
        heads: dict[str, tuple[int, bytes]] = {}
        rows = []
        leaves: list[bytes] = []
        events = []
        for offset, data in enumerate(seal.events):
            ev = decode_event(data)
            index = size + offset
            lh = leaf_hash(data)
            heads[ev.chain_key] = (index, lh)
            leaves.append(lh)
            events.append((index, ev))
            rows.append(
                {
                    "leaf_index": index,
                    "leaf_hash": lh,
                    "chain_key": ev.chain_key,
                    "type": ev.type,
                    "case": ev.case,
                    "item": ev.item,
                    "actor_id": ev.actor_id,
                    "at": ev.at,
                    "canonical": data,
                    "sealed_in": seal.size,
                }
            )
        source = LayeredNodeSource(frontier)
        nodes = append_leaves(size, source, leaves)
        source.add(nodes)
        checkpoint = parse_checkpoint_body(parse_note(seal.note).text)
        stamps = read_timestamps(store, seal.size)
        with engine.begin() as conn:
            conn.execute(insert(_EVENTS), rows)
            insert_nodes(conn, nodes)
            upsert_heads(conn, heads)
            conn.execute(
                insert(_CHECKPOINTS),
                {
                    "size": seal.size,
                    "root": checkpoint.root,
                    "note": seal.note.decode(),
                    "created_at": events[-1][1].at,
                    "tokens_pending": 0,
                },
            )
            for t in stamps:
                conn.execute(
                    insert(_TIMESTAMPS),
                    {
                        "checkpoint_size": seal.size,
                        "tsa": t.tsa,
                        "tsr": t.tsr_der,
                        "gen_time": t.gen_time,
                        "chain_pem": chain_to_pem(t.chain_der),
                    },
                )
        size = seal.size
        keep = frontier_coords(size)
        frontier = MemoryNodeStore((lv, ix, h) for (lv, ix), h in source.get_nodes(keep).items())
        if on_event is not None:
            for index, ev in events:
                on_event(index, ev)
        if progress is not None:
            progress(size)
    return size
