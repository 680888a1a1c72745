"""A case's timeline: every ledger event about the case, categorised, summarised, filtered.

Pure functions over decoded events; the service feeds them from the ledger index.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.events import Names, category, occurred_at, summary
from verify.events import Event

#: every category a filter may name, in the order pages list them
CATEGORY_NAMES: tuple[str, ...] = (
    "evidence",
    "containment",
    "playbook",
    "transfer",
    "access",
    "decision",
    "note",
    "communication",
    "legal",
    "review",
    "case",
    "report",
    "other",
)


@dataclass(frozen=True)
class TimelineEntry:
    index: int
    #: when the vault sealed it
    at: datetime
    #: when it happened, as the actor tells it (the sealed time when nobody told)
    occurred_at: datetime
    type: str
    category: str
    actor: str
    actor_role: str
    item: str | None
    summary: str
    leaf_hash: str
    body: dict[str, Any]

    @property
    def lag_s(self) -> float:
        """How long after the fact the vault sealed it."""
        return (self.at - self.occurred_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "at": self.at.isoformat(),
            "occurred_at": self.occurred_at.isoformat(),
            "lag_s": self.lag_s,
            "type": self.type,
            "category": self.category,
            "actor": self.actor,
            "actor_role": self.actor_role,
            "item": self.item,
            "summary": self.summary,
            "leaf_hash": self.leaf_hash,
            "body": self.body,
        }


def entry(index: int, ev: Event, names: Names | None = None) -> TimelineEntry:
    return TimelineEntry(
        index=index,
        at=ev.at,
        occurred_at=occurred_at(ev),
        type=ev.type,
        category=category(ev.type),
        actor=ev.actor_id,
        actor_role=ev.actor_role,
        item=ev.item,
        summary=summary(ev, names or Names()),
        leaf_hash=ev.leaf_hash.hex(),
        body=ev.body,
    )


@dataclass(frozen=True)
class TimelineFilter:
    categories: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    item: str | None = None
    #: case-insensitive text searched in the summary, the body and the names
    query: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, e: TimelineEntry) -> bool:
        if self.categories and e.category not in self.categories:
            return False
        if self.types and e.type not in self.types:
            return False
        if self.actors and e.actor not in self.actors:
            return False
        if self.item is not None and e.item != self.item:
            return False
        if self.since is not None and e.occurred_at < self.since:
            return False
        if self.until is not None and e.occurred_at >= self.until:
            return False
        if self.query:
            hay = " ".join(
                (e.summary, e.type, e.actor, e.item or "", json.dumps(e.body, ensure_ascii=False))
            ).casefold()
            if not all(word in hay for word in self.query.casefold().split()):
                return False
        return True


def build(events: Iterable[tuple[int, Event]], flt: TimelineFilter) -> list[TimelineEntry]:
    """Entries in the order things happened (as told), ties in ledger order."""
    events = list(events)
    # Summaries name artifacts by file name: the case's own ingest events say them.
    names = Names.of(ev for _, ev in events)
    entries = [e for e in (entry(i, ev, names) for i, ev in events) if flt.matches(e)]
    return sorted(entries, key=lambda e: (e.occurred_at, e.index))


CSV_COLUMNS = (
    "index",
    "occurred_at",
    "at",
    "category",
    "type",
    "actor",
    "actor_role",
    "item",
    "summary",
)
CSV_COLUMNS_FULL = (*CSV_COLUMNS, "leaf_hash", "body")


def _cell(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ (or tab/CR) as formulas; a leading
    apostrophe shows the text as written (OWASP CSV injection). The JSON export and the
    ledger keep the exact values."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv_rows(entries: Iterable[TimelineEntry]) -> Iterator[str]:
    """CSV text in pieces (header first), for a streaming response."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS_FULL)
    yield buf.getvalue()
    for e in entries:
        buf.seek(0)
        buf.truncate()
        writer.writerow(
            [
                str(e.index),
                e.occurred_at.isoformat(),
                e.at.isoformat(),
                e.category,
                _cell(e.type),
                _cell(e.actor),
                _cell(e.actor_role),
                _cell(e.item or ""),
                _cell(e.summary),
                e.leaf_hash,
                _cell(json.dumps(e.body, ensure_ascii=False, sort_keys=True)),
            ]
        )
        yield buf.getvalue()
