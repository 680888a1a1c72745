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

from verify.events import Event

CATEGORIES: dict[str, str] = {
    "ingest": "evidence",
    "containment": "containment",
    "transfer": "transfer",
    "access": "access",
    "annotation": "note",
    "case.note": "note",
    "case.decision": "decision",
    "case.updated": "decision",
    "case.created": "case",
    "case.member_added": "case",
    "hold.set": "legal",
    "hold.released": "legal",
    "review.recorded": "review",
    "review.item_updated": "review",
}
#: every category a filter may name, in the order pages list them
CATEGORY_NAMES: tuple[str, ...] = (
    "evidence",
    "containment",
    "transfer",
    "access",
    "decision",
    "note",
    "legal",
    "review",
    "case",
    "report",
    "other",
)


def category(event_type: str) -> str:
    if event_type in CATEGORIES:
        return CATEGORIES[event_type]
    # Reports, bundles and exports are added by other domains; group them by prefix
    # so the timeline shows them without knowing every type in advance.
    if event_type.startswith(("report", "export", "bundle")):
        return "report"
    return "other"


@dataclass(frozen=True)
class TimelineEntry:
    index: int
    at: datetime
    type: str
    category: str
    actor: str
    actor_role: str
    item: str | None
    summary: str
    leaf_hash: str
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "at": self.at.isoformat(),
            "type": self.type,
            "category": self.category,
            "actor": self.actor,
            "actor_role": self.actor_role,
            "item": self.item,
            "summary": self.summary,
            "leaf_hash": self.leaf_hash,
            "body": self.body,
        }


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "? bytes"
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover - the loop always returns


def summarize(ev: Event) -> str:
    """One line a person can read; the body stays available for the details."""
    b = ev.body
    t = ev.type
    if t == "case.created":
        return f"Case opened: {_short(b.get('title', ''))} ({b.get('severity', '?')})"
    if t == "case.updated":
        changes = b.get("changes") if isinstance(b.get("changes"), dict) else {}
        assert isinstance(changes, dict)
        parts = []
        for name, pair in changes.items():
            if isinstance(pair, list) and len(pair) == 2:
                parts.append(f"{name}: {_short(pair[0], 40)} → {_short(pair[1], 40)}")
        return "Updated " + "; ".join(parts) if parts else "Updated"
    if t == "case.member_added":
        return f"{b.get('principal')} ({b.get('role')}) joined the case"
    if t == "hold.set":
        return f"Legal hold placed on {b.get('objects', 0)} object(s): {_short(b.get('reason'))}"
    if t == "hold.released":
        return f"Legal hold released: {_short(b.get('reason'))}"
    if t == "ingest":
        src = f" from {b['source_host']}" if b.get("source_host") else ""
        return (
            f"Collected {b.get('file_name')} ({_size(b.get('size'))}, "
            f"SHA-256 {str(b.get('sha256', ''))[:16]}…){src}"
        )
    if t == "access":
        rng = b.get("range")
        part = f" bytes {rng[0]}–{rng[1]}" if isinstance(rng, list) and len(rng) == 2 else ""
        return f"Read {ev.item}{part}: {_short(b.get('reason'))}"
    if t == "transfer":
        frm = (b.get("from") or {}).get("id") if isinstance(b.get("from"), dict) else None
        to = (b.get("to") or {}).get("id") if isinstance(b.get("to"), dict) else None
        return f"Custody of {ev.item}: {frm} → {to}: {_short(b.get('reason'))}"
    if t == "annotation":
        return f"Note on {ev.item}: {_short(b.get('text'))}"
    if t == "containment":
        return (
            f"{str(b.get('action', '')).replace('_', ' ').capitalize()} {_short(b.get('target'))}"
            f": {b.get('outcome')} (by {b.get('performed_by')})"
        )
    if t in ("case.note", "case.decision"):
        label = "Decision" if t == "case.decision" else "Note"
        return f"{label}: {_short(b.get('text'))}"
    if t == "review.recorded":
        items = b.get("action_items")
        n = len(items) if isinstance(items, list) else 0
        return f"Lessons learned recorded ({n} action item(s)): {_short(b.get('summary'))}"
    if t == "review.item_updated":
        changes = b.get("changes") if isinstance(b.get("changes"), dict) else {}
        assert isinstance(changes, dict)
        parts = [
            f"{k}: {_short(v[0], 30)} → {_short(v[1], 30)}"
            for k, v in changes.items()
            if isinstance(v, list) and len(v) == 2
        ]
        return f"Action item {b.get('item')}: " + "; ".join(parts)
    if t == "report.issued":
        return (
            f"Custody report issued ({b.get('format')}, SHA-256 "
            f"{str(b.get('sha256', ''))[:16]}…) at tree size {b.get('checkpoint_size')}"
        )
    if t == "export":
        arts = b.get("artifacts")
        n = len(arts) if isinstance(arts, list) else 0
        what = "with content" if b.get("content") else "proofs only"
        return f"Evidence bundle exported ({n} artifact(s), {what})"
    return f"{t}: {_short(b, 120)}"


def entry(index: int, ev: Event) -> TimelineEntry:
    return TimelineEntry(
        index=index,
        at=ev.at,
        type=ev.type,
        category=category(ev.type),
        actor=ev.actor_id,
        actor_role=ev.actor_role,
        item=ev.item,
        summary=summarize(ev),
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
        if self.since is not None and e.at < self.since:
            return False
        if self.until is not None and e.at >= self.until:
            return False
        if self.query:
            hay = " ".join(
                (e.summary, e.type, e.actor, e.item or "", json.dumps(e.body, ensure_ascii=False))
            ).casefold()
            if not all(word in hay for word in self.query.casefold().split()):
                return False
        return True


def build(events: Iterable[tuple[int, Event]], flt: TimelineFilter) -> list[TimelineEntry]:
    """Entries in ledger order (the order the vault sealed them: time order)."""
    return [e for e in (entry(i, ev) for i, ev in events) if flt.matches(e)]


CSV_COLUMNS = ("index", "at", "category", "type", "actor", "actor_role", "item", "summary")
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
