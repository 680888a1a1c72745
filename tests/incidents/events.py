"""Build real canonical events (as the ledger seals them) for the pure computations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from verify.events import Event, decode_event, encode_event

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FixedClock:
    """Stands still until moved: every event sealed meanwhile carries exactly `now`.

    Tests put it on the ledger (`vault.ledger.clock`), which also serves as "now" for
    deadlines, so event times and deadline evaluation move together.
    """

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def event(
    type: str,
    when: datetime,
    body: dict[str, Any],
    *,
    case: str = "IR-2026-0001",
    item: str | None = None,
    actor: str = "alice",
    role: str = "collector",
) -> Event:
    return decode_event(
        encode_event(
            type=type,
            case=case,
            item=item,
            actor_id=actor,
            actor_role=role,
            at=when,
            prev=None,
            body=body,
        )
    )


def created(when: datetime = T0, severity: str = "P1", **extra: Any) -> Event:
    body = {
        "title": "Ransomware on FS01",
        "severity": severity,
        "status": "new",
        "owner": "alice",
        "retention_days": 2555,
        **extra,
    }
    return event("case.created", when, body)


def updated(when: datetime, **changes: tuple[Any, Any]) -> Event:
    return event("case.updated", when, {"changes": {k: list(v) for k, v in changes.items()}})
