"""The index tables' one writer: decides drafts and projects sealed events.

`IndexWriter` is handed to the ledger, which calls it inside the seal's transaction:
each draft's preconditions are checked and its ids allocated in a savepoint, against
the state the events sealed before it (in this batch too) left, and the rows its event
implies are written in the same savepoint. A refused draft rolls back alone. A draft that
cannot be refused (nothing to check, allocate or project but its search row) takes no
savepoint; its row is inserted with the batch's others.
`Replayer` runs the same projections over the archive for `locard rebuild`, and the
audit runs them into a scratch database to compare with the live one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert
from sqlmodel import Session

from app.events.artifact_events import TRANSFER
from app.events.catalogue import CATALOGUE, parse_time
from app.events.principal_events import PRINCIPAL_EVENTS
from app.search.indexing import entry_values, project_search, searchable
from app.search.models import SearchEntry
from custody.ledger import EventDraft, Refused
from verify.events import Event

SEARCH_ENTRIES: Table = SearchEntry.__table__  # type: ignore[attr-defined]


class IndexBatch:
    def __init__(self, s: Session) -> None:
        self.s = s
        #: search rows of the batch's plain events, written at once by `finish`
        self._search_rows: list[dict[str, Any]] = []

    def _index_only(self, draft: EventDraft) -> bool:
        """A draft with nothing to check, allocate or project but its search row (an
        annotation, say): it cannot be refused, so it needs no savepoint, and its row is
        one of a batch insert. Per event, the savepoint, the ORM object and its flush
        cost more than sealing the event itself."""
        spec = CATALOGUE.get(draft.type)
        return (
            spec is not None
            and spec.project is None
            and spec.allocate is None
            and not draft.preconditions
            and draft.body.get("occurred_at") is None
        )

    def wants(self, draft: EventDraft) -> bool:
        spec = CATALOGUE.get(draft.type)
        return (
            bool(draft.preconditions)
            or draft.body.get("occurred_at") is not None
            or (spec is not None and (spec.project is not None or spec.allocate is not None))
            # every event of a case is a row of the search index (app.search.indexing)
            or (spec is not None and draft.case is not None and searchable(draft.type))
        )

    @contextmanager
    def step(self, draft: EventDraft, at: datetime) -> Iterator[EventDraft]:
        if self._index_only(draft):
            yield draft
            return
        with self.s.begin_nested():
            for condition in draft.preconditions:
                condition.check(self.s)
            told = parse_time(draft.body.get("occurred_at"))
            if told is not None and told > at:
                raise Refused(
                    f"occurred_at {told.isoformat()} is after the sealed time {at.isoformat()}",
                    {"sealed_at": at.isoformat()},
                )
            spec = CATALOGUE.get(draft.type)
            if spec is not None and spec.allocate is not None:
                draft = spec.allocate(self.s, draft, at)
            yield draft

    def project(self, index: int, event: Event, draft: EventDraft) -> None:
        if self._index_only(draft):
            if (values := entry_values(index, event)) is not None:
                self._search_rows.append(values)
            return
        apply(self.s, index, event, draft)

    def finish(self) -> None:
        if self._search_rows:
            self.s.execute(insert(SEARCH_ENTRIES), self._search_rows)


def projects(event: Event) -> bool:
    spec = CATALOGUE.get(event.type)
    return spec is not None and (
        spec.project is not None or (event.case is not None and searchable(event.type))
    )


def apply(s: Session, index: int, event: Event, draft: EventDraft | None = None) -> None:
    spec = CATALOGUE.get(event.type)
    if spec is None:
        return
    if spec.project is not None:
        spec.project(s, index, event, draft.private if draft is not None else {})
    project_search(s, index, event)
    s.flush()


#: the events whose projections change rows that servers cache (app.rowcache): principals,
#: and an artifact's custodian
CACHED_ROW_EVENTS = PRINCIPAL_EVENTS | {TRANSFER.name.value}


class IndexWriter:
    def __init__(self, on_cached_rows: Callable[[], None] | None = None) -> None:
        #: told after a seal that changed cached rows commits (app.rowcache)
        self.on_cached_rows = on_cached_rows

    def committed(self, types: Sequence[str]) -> None:
        if self.on_cached_rows is not None and not CACHED_ROW_EVENTS.isdisjoint(types):
            self.on_cached_rows()

    @contextmanager
    def batch(self, conn: Connection) -> Iterator[IndexBatch]:
        # Joins the seal's transaction: nothing here commits or rolls it back.
        with Session(bind=conn, expire_on_commit=False) as s:
            batch = IndexBatch(s)
            yield batch
            batch.finish()


class Replayer:
    """Projects archived events in ledger order, one transaction per event."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.applied = 0

    def __call__(self, index: int, ev: Event) -> None:
        if not projects(ev):
            return
        with Session(self.engine) as s:
            apply(s, index, ev)
            s.commit()
        self.applied += 1
