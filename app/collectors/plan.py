"""What a collector's records say was collected, before any of it is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from app.events.collector_events import Collector

Algorithm = Literal["sha256", "sha1", "md5"]


@dataclass(frozen=True)
class PlannedItem:
    #: the zip member holding the bytes
    member: str
    source_path: str | None
    #: when the collector copied it (the item's `occurred_at`)
    copied_at: datetime | None
    times: dict[str, str] = field(default_factory=dict)
    recorded: dict[Algorithm, str] = field(default_factory=dict)
    recorded_size: int | None = None
    #: False: the file is in the container but no collector row names it
    listed: bool = True


@dataclass(frozen=True)
class CollectionPlan:
    collector: Collector
    tool: str
    method: str
    source_host: str | None
    provenance: list[str]
    items: list[PlannedItem]
    #: rows naming a file the container does not hold
    missing: list[str]


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_when(value: object) -> datetime | None:
    """A collector's timestamp (Go's RFC 3339 with nanoseconds, or ISO without a zone,
    which both tools write in UTC) as aware UTC; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = _FRACTION.sub(r"\1", value.strip()).replace(" ", "T", 1)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def iso_or_none(value: object) -> str | None:
    t = parse_when(value)
    return t.isoformat() if t is not None else None


_HEX = {"sha256": 64, "sha1": 40, "md5": 32}


def hex_digest(alg: Algorithm, value: object) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    if len(v) == _HEX[alg] and all(c in "0123456789abcdef" for c in v):
        return v
    return None
