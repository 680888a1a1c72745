"""Events exactly as releases before the event catalogue sealed them (body version 1)."""

from __future__ import annotations

from datetime import UTC, datetime

from verify.events import Event, decode_event, encode_event


def _ev(type_: str, body: dict[str, object], minute: int) -> Event:
    return decode_event(
        encode_event(
            type=type_,
            case="IR-2026-0001",
            item=None,
            actor_id="alice",
            actor_role="collector",
            at=datetime(2026, 11, 1, 10, minute, tzinfo=UTC),
            prev=None,
            body=body,
        )
    )


def v1_case_events() -> list[Event]:
    return [
        _ev(
            "case.created",
            {
                "title": "t",
                "severity": "P1",
                "status": "new",
                "owner": "alice",
                "retention_days": 30,
            },
            0,
        ),
        _ev(
            "containment",
            {
                "action": "isolate_host",
                "target": "h",
                "performed_by": "alice",
                "performed_at": "2026-11-01T10:05:00+00:00",
                "outcome": "succeeded",
                "ticket": None,
                "details": "",
            },
            30,
        ),
        _ev("case.updated", {"changes": {"status": ["new", "contained"]}}, 40),
    ]
