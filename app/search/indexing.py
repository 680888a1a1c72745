"""What an event adds to the search index: the words of its facts.

Run by the catalogue's projection step for every event of a case (see
`app.events.projection.apply`), in the seal's transaction and again by `locard rebuild`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlmodel import Session

from app.search.models import SearchEntry
from app.search.terms import words
from verify.event_types import EventType
from verify.events import Event

#: body fields that hold what people wrote or named (not hashes, ids or times)
TEXT_FIELDS = (
    "title",
    "description",
    "file_name",
    "source_host",
    "collection_tool",
    "notes",
    "text",
    "reason",
    "action",
    "target",
    "details",
    "outcome",
    "summary",
    "root_cause",
    "name",
    "owner",
    "kind",
    "recipient",
    "note",
    "step",
    "scenario",
)

#: reads of evidence would bury the incident's own words; they stay in the timeline
_SKIPPED = frozenset({EventType.access.value})
_CASE = frozenset({EventType.case_created.value, EventType.case_updated.value})


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _texts(v)


def fact_words(ev: Event) -> list[str]:
    body = ev.body
    found = words(ev.type.replace(".", " ").replace("_", " "))
    for name in TEXT_FIELDS:
        for text in _texts(body.get(name)):
            found.extend(words(text))
    changes = body.get("changes")
    if isinstance(changes, Mapping):
        for name, pair in changes.items():
            found.extend(words(str(name)))
            if isinstance(pair, list) and pair:
                found.extend(w for t in _texts(pair[-1]) for w in words(t))
    return found


def searchable(event_type: str) -> bool:
    """Whether an event of this type (about a case) has a row in the index."""
    return event_type not in _SKIPPED


def entry_values(index: int, ev: Event) -> dict[str, Any] | None:
    """The row an event projects, or None (no case, or a type not worth searching)."""
    if ev.case is None or not searchable(ev.type):
        return None
    if ev.type in _CASE:
        kind, ref = "case", ev.case
    elif ev.item is not None:
        kind, ref = "artifact", ev.item
    else:
        kind, ref = "event", ev.case
    return {
        "id": index,
        "case_id": ev.case,
        "kind": kind,
        "ref": ref,
        "event_type": ev.type,
        "terms": " ".join(fact_words(ev)),
    }


def project_search(s: Session, index: int, ev: Event) -> None:
    values = entry_values(index, ev)
    if values is not None:
        s.add(SearchEntry(**values))
