"""The event catalogue and the one way services record events (see `catalogue`)."""

from app.events import (  # noqa: F401  (each module declares its types on import)
    artifact_events,
    asset_events,
    case_events,
    collector_events,
    incident_events,
    key_events,
    playbook_events,
    principal_events,
    renewal_events,
)
from app.events.catalogue import (
    CATALOGUE,
    Body,
    EventSpec,
    EventType,
    category,
    occurred_at,
    spec_of,
    summary,
)
from app.events.phrases import Names
from app.events.projection import IndexWriter, Replayer
from app.events.record import draft, event_time, record, sealed_case, submit

__all__ = [
    "CATALOGUE",
    "Body",
    "EventSpec",
    "EventType",
    "IndexWriter",
    "Names",
    "Replayer",
    "category",
    "draft",
    "event_time",
    "occurred_at",
    "record",
    "sealed_case",
    "spec_of",
    "submit",
    "summary",
]
