"""Sentences for event summaries: names instead of ids, words instead of field dumps.

The catalogue's summaries are what the pages, the timeline CSV and the custody reports
all show, so the wording lives here once. A summary may name an artifact by its file
name: `Names` carries what the reader knows (built from the ingest events it holds);
an unknown id is shown as the id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.events.text import short
from verify.event_types import EventType
from verify.events import Event


@dataclass(frozen=True)
class Names:
    """Display names of the items a reader has seen (artifact id → file name)."""

    artifacts: Mapping[str, str] = field(default_factory=dict)

    def artifact(self, item: str | None) -> str:
        if not item:
            return "an artifact"
        name = self.artifacts.get(item)
        return f"{name} ({item})" if name else item

    @classmethod
    def of(cls, events: Iterable[Event]) -> Names:
        return cls(
            {
                ev.item: str(ev.body["file_name"])
                for ev in events
                if ev.type == EventType.ingest and ev.item and ev.body.get("file_name")
            }
        )


NO_NAMES = Names()

#: containment actions in the past tense, as a sentence starts ("Isolated host fs01")
ACTIONS_DONE = {
    "isolate_host": "Isolated host",
    "disable_account": "Disabled account",
    "revoke_token": "Revoked token",
    "revoke_credentials": "Revoked the credentials and tokens of",
    "block_ioc": "Blocked the indicator",
    "isolate_container": "Isolated container",
    "emergency_change": "Made an emergency change:",
    "other": "Containment action:",
}
#: the same actions as something attempted ("Tried to isolate host fs01: failed")
ACTIONS_TRIED = {
    "isolate_host": "isolate host",
    "disable_account": "disable account",
    "revoke_token": "revoke token",
    "revoke_credentials": "revoke the credentials and tokens of",
    "block_ioc": "block the indicator",
    "isolate_container": "isolate container",
    "emergency_change": "make an emergency change:",
    "other": "contain",
}


def containment(b: Mapping[str, Any]) -> str:
    action = str(b.get("action", ""))
    target = short(b.get("target"), 120)
    by = b.get("performed_by")
    who = f" ({by})" if by else ""
    outcome = b.get("outcome")
    if outcome == "succeeded":
        done = ACTIONS_DONE.get(action, action.replace("_", " ").capitalize())
        return f"{done} {target}{who}"
    tried = ACTIONS_TRIED.get(action, action.replace("_", " "))
    if outcome == "partial":
        return f"Partly managed to {tried} {target}{who}"
    if outcome == "pending":
        return f"Started to {tried} {target}, not finished yet{who}"
    return f"Tried to {tried} {target}: it {outcome or 'did not work'}{who}"


def when(value: Any) -> str:
    """A time from a body as people read it: minutes, UTC (the page shows the viewer's zone
    beside it; the body keeps the exact value)."""
    if not isinstance(value, str) or not value:
        return "—"
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    t = (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _flag(name: str, new: Any) -> str | None:
    if name == "personal_data":
        return "Marked as exposing personal data" if new else "Marked as exposing no personal data"
    if name == "notification_required":
        return "Notification marked as required" if new else "Notification marked as not required"
    if name == "legal_hold":
        return "Legal hold on" if new else "Legal hold off"
    return None


_TIMES = {
    "aware_at": ("Aware of the incident since {new}", "Awareness time cleared"),
    "notified_at": ("Notification made at {new}", "Notification time cleared"),
    "declared_at": ("Declared at {new}", "Declaration time cleared"),
    "contained_at": ("Contained at {new}", "Containment time cleared"),
    "acknowledged_at": ("Acknowledged at {new}", "Acknowledgement time cleared"),
}


def change(name: str, old: Any, new: Any) -> str:
    """One field change of a case as a sentence."""
    flag = _flag(name, new)
    if flag is not None:
        return flag
    if name in _TIMES:
        told, cleared = _TIMES[name]
        if new is None:
            return cleared
        text = told.format(new=when(new))
        return text + (f" (was {when(old)})" if old else "")
    if name == "status":
        if old == "closed":
            return f"Reopened as {new}"
        return "Closed" if new == "closed" else f"Status changed from {old} to {new}"
    if name == "severity":
        return f"Severity changed from {old} to {new}"
    if name == "title":
        return f"Renamed from “{short(old, 60)}” to “{short(new, 60)}”"
    if name == "description":
        return "Description edited"
    if name == "owner":
        return f"Owner changed from {old} to {new}"
    label = name.replace("_", " ").capitalize()
    if old is None:
        return f"{label} set to {short(new, 60)}"
    return f"{label} changed from {short(old, 60)} to {short(new, 60)}"


def changes(pairs: Mapping[str, Any]) -> str:
    return "; ".join(
        change(name, pair[0], pair[1])
        for name, pair in pairs.items()
        if isinstance(pair, list | tuple) and len(pair) == 2
    )


def item_change(pairs: Mapping[str, Any]) -> str:
    """An action item's change: closing, cancelling, reopening, a new owner or due date."""
    out = []
    for name, pair in pairs.items():
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            continue
        old, new = pair
        if name == "state":
            out.append(
                {
                    "done": "closed as done",
                    "cancelled": "cancelled",
                    "in_progress": "started",
                    "open": "reopened",
                }.get(str(new), f"moved from {old} to {new}".replace("_", " "))
            )
        elif name == "owner":
            out.append(f"handed from {old} to {new}")
        elif name == "due":
            out.append(f"due date moved from {old} to {new}")
        else:
            out.append(
                f"{name.replace('_', ' ')} changed from {short(old, 30)} to {short(new, 30)}"
            )
    return ", ".join(out) or "updated"
