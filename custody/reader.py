"""Read access to the ledger index for the service: events by case, chain heads,
checkpoints with their tokens. App code reads the ledger through this, never its tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from custody.models import CheckpointRow, LedgerEvent, TimestampRow
from custody.nodes import DbNodeSource
from custody.proofs import inclusion_proof

_EVENTS = LedgerEvent.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_TIMESTAMPS = TimestampRow.__table__  # type: ignore[attr-defined]
#: bound on the parameters of one IN (...) query
_CHUNK = 500


@dataclass(frozen=True)
class IndexedEvent:
    index: int
    leaf_hash: bytes
    chain_key: str
    type: str
    case: str | None
    item: str | None
    canonical: bytes
    #: size of the first checkpoint that covers the event
    sealed_in: int
    actor_id: str
    at: datetime


@dataclass(frozen=True)
class TokenRecord:
    tsa: str
    tsr_der: bytes
    gen_time: datetime
    chain_pem: str


@dataclass(frozen=True)
class CheckpointRecord:
    size: int
    root: bytes
    note: str
    created_at: datetime
    tokens_pending: int
    tokens: tuple[TokenRecord, ...]


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _event(r: Any) -> IndexedEvent:
    return IndexedEvent(
        index=int(r.leaf_index),
        leaf_hash=bytes(r.leaf_hash),
        chain_key=str(r.chain_key),
        type=str(r.type),
        case=r.case,
        item=r.item,
        canonical=bytes(r.canonical),
        sealed_in=int(r.sealed_in),
        actor_id=str(r.actor_id),
        at=_aware(r.at),
    )


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


class LedgerReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def case_events(
        self, case: str, *, below: int | None = None, after: int = -1, limit: int | None = None
    ) -> list[IndexedEvent]:
        """Events about the case (its chain and its items'), ledger order, in (after, below)."""
        q = select(_EVENTS).where(_EVENTS.c.case == case, _EVENTS.c.leaf_index > after)
        if below is not None:
            q = q.where(_EVENTS.c.leaf_index < below)
        q = q.order_by(_EVENTS.c.leaf_index)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [_event(r) for r in conn.execute(q)]

    def case_events_proved(
        self, case: str, *, after: int, below: int, tree_size: int, limit: int
    ) -> list[tuple[IndexedEvent, list[bytes]]]:
        """A page of `case_events` with each inclusion proof against `tree_size`, read on
        one connection (a bundle of 10⁴ events must not open 10⁴ connections)."""
        q = (
            select(_EVENTS)
            .where(
                _EVENTS.c.case == case,
                _EVENTS.c.leaf_index > after,
                _EVENTS.c.leaf_index < below,
            )
            .order_by(_EVENTS.c.leaf_index)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            events = [_event(r) for r in conn.execute(q)]
            nodes = DbNodeSource(conn)
            return [(e, inclusion_proof(e.index, tree_size, nodes)) for e in events]

    def case_level_events(self) -> Iterator[IndexedEvent]:
        """Events about cases as a whole (not their items), ledger order."""
        q = (
            select(_EVENTS)
            .where(_EVENTS.c.case.is_not(None), _EVENTS.c.item.is_(None))
            .order_by(_EVENTS.c.leaf_index)
        )
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                yield _event(r)

    def chain_heads(self, case: str, *, exclude: str) -> dict[str, tuple[int, bytes]]:
        """The last event of every chain about the case, but `exclude`."""
        e = _EVENTS
        last = (
            select(e.c.chain_key, func.max(e.c.leaf_index).label("last"))
            .where(e.c.case == case, e.c.chain_key != exclude)
            .group_by(e.c.chain_key)
            .subquery()
        )
        query = select(e.c.chain_key, e.c.leaf_index, e.c.leaf_hash).join(
            last, e.c.leaf_index == last.c.last
        )
        with self.engine.connect() as conn:
            return {str(k): (int(i), bytes(h)) for k, i, h in conn.execute(query)}

    def checkpoints(self, sizes: Iterable[int]) -> dict[int, CheckpointRecord]:
        """The checkpoints of these sizes with their tokens (TSA name order)."""
        out: dict[int, CheckpointRecord] = {}
        tokens: dict[int, list[TokenRecord]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(sizes))):
                for t in conn.execute(
                    select(_TIMESTAMPS)
                    .where(_TIMESTAMPS.c.checkpoint_size.in_(chunk))
                    .order_by(_TIMESTAMPS.c.checkpoint_size, _TIMESTAMPS.c.tsa)
                ).mappings():
                    tokens.setdefault(int(t["checkpoint_size"]), []).append(
                        TokenRecord(
                            t["tsa"], bytes(t["tsr"]), _aware(t["gen_time"]), t["chain_pem"]
                        )
                    )
                for c in conn.execute(
                    select(_CHECKPOINTS).where(_CHECKPOINTS.c.size.in_(chunk))
                ).mappings():
                    size = int(c["size"])
                    out[size] = CheckpointRecord(
                        size=size,
                        root=bytes(c["root"]),
                        note=c["note"],
                        created_at=_aware(c["created_at"]),
                        tokens_pending=int(c["tokens_pending"]),
                        tokens=tuple(tokens.get(size, ())),
                    )
        return out

    def item_events(self, items: Sequence[str], types: Iterable[str]) -> list[IndexedEvent]:
        """Events of these types on these items' chains, ledger order (chunked IN queries:
        a collection asks about thousands of items at once)."""
        wanted = sorted(set(types))
        out: list[IndexedEvent] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(items))):
                q = select(_EVENTS).where(_EVENTS.c.item.in_(chunk), _EVENTS.c.type.in_(wanted))
                out.extend(_event(r) for r in conn.execute(q))
        out.sort(key=lambda e: e.index)
        return out
