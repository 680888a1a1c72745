"""The event catalogue: every custody event type, declared once.

A declaration names the type, its timeline category, one typed body model per body
version, the one-line summary every reader shows (timeline, reports, CASE/UCO), the
time the actor says the fact happened (`occurred_at`), and the projection that writes
the index rows the event implies. Services emit events through `app.events.record`;
rows are written only by projections, in the seal's transaction, and `locard rebuild`
runs the same projections over the archive.

Body versions: a body without a `v` key is version 1 (what earlier releases sealed);
a later version carries `"v": N`. An old body is never rewritten: its version's model
reads it and its projection applies the stated defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlmodel import Session

from app.events.phrases import NO_NAMES, Names
from custody.ledger import EventDraft
from verify.event_types import EventType as EventType
from verify.events import Event


class Body(BaseModel):
    """Base of every body model: exact shapes, nothing unknown slips into the ledger."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class UnknownEventType(KeyError):
    """An event type the catalogue does not declare."""


class BadBody(ValueError):
    """A body that its type's model for its version refuses."""


Projection = Callable[[Session, int, Event, Mapping[str, Any]], None]
Allocator = Callable[[Session, EventDraft, datetime], EventDraft]


@dataclass(frozen=True)
class EventSpec:
    name: EventType
    category: str
    #: body model per body version; the highest is what new events carry
    bodies: Mapping[int, type[Body]]
    #: one sentence, naming the artifacts the reader knows by their file names
    summary: Callable[[Event, Names], str]
    project: Projection | None = None
    #: assigns ids inside the seal (case numbers), so a projection never races an insert
    allocate: Allocator | None = None
    #: when the actor says the fact happened; None: the sealed time is the fact's time
    occurred: Callable[[Event], datetime | None] = field(default=lambda ev: None)

    @property
    def version(self) -> int:
        return max(self.bodies)

    def parse(self, ev: Event) -> Body:
        return self.parse_body(ev.body)

    def parse_body(self, body: Mapping[str, Any]) -> Body:
        version = body_version(body)
        model = self.bodies.get(version)
        if model is None:
            raise BadBody(f"{self.name}: unknown body version {version}")
        data = {k: v for k, v in body.items() if k != "v"}
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise BadBody(f"{self.name} body v{version}: {exc}") from exc


def body_version(body: Mapping[str, Any]) -> int:
    v = body.get("v", 1)
    return v if type(v) is int else 0


CATALOGUE: dict[str, EventSpec] = {}


def declare(spec: EventSpec) -> EventSpec:
    if spec.name.value in CATALOGUE:
        raise ValueError(f"event type {spec.name} declared twice")
    CATALOGUE[spec.name.value] = spec
    return spec


def spec_of(event_type: str) -> EventSpec:
    try:
        return CATALOGUE[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def new_body(event_type: EventType, body: Body) -> dict[str, Any]:
    """A body of the type's current version, as the ledger will hold it."""
    spec = spec_of(event_type)
    if type(body) is not spec.bodies[spec.version]:
        raise BadBody(f"{event_type} takes {spec.bodies[spec.version]!r} bodies")
    # Unset optional fields stay out, as services always wrote them (an access without a
    # range has no `range` key, not a null one).
    data = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if spec.version > 1:
        data["v"] = spec.version
    return data


def summary(ev: Event, names: Names = NO_NAMES) -> str:
    """The one human summary of an event (unknown types say so rather than fail)."""
    spec = CATALOGUE.get(ev.type)
    if spec is None:
        return f"{ev.type} (an event type this release does not know)"
    try:
        return spec.summary(ev, names)
    except (BadBody, KeyError, TypeError, ValueError) as exc:
        return f"{ev.type} with an unreadable body ({exc})"


def category(event_type: str) -> str:
    spec = CATALOGUE.get(event_type)
    return spec.category if spec else "other"


def occurred_at(ev: Event) -> datetime:
    """When the fact happened as told by the actor, else when it was sealed."""
    spec = CATALOGUE.get(ev.type)
    told = spec.occurred(ev) if spec else None
    return told if told is not None else ev.at


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a body (always written with an offset) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    t = datetime.fromisoformat(value)
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None
