"""SLA, notification deadline, MTTA and MTTC computations: pure functions, fixed clocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from app.incidents.metrics import (
    case_deadlines,
    case_facts,
    compute_metrics,
    human_duration,
    notification_deadline,
    sla_deadlines,
)
from app.incidents.policy import IncidentPolicy, SlaTarget
from tests.incidents.events import T0, at, created, event, updated

POLICY = IncidentPolicy()


def test_times_are_derived_from_status_events() -> None:
    f = case_facts(
        "IR-2026-0001",
        [
            created(),
            updated(at(minutes=10), status=("new", "triaged")),
            updated(at(hours=3), status=("triaged", "contained")),
            updated(at(hours=30), status=("contained", "eradicated")),
            updated(at(hours=50), status=("eradicated", "closed")),
        ],
    )
    assert f.declared_at == T0
    assert f.acknowledged_at == at(minutes=10)
    assert f.contained_at == at(hours=3)
    assert f.closed_at == at(hours=50)
    assert [h.new for h in f.history] == ["triaged", "contained", "eradicated", "closed"]


def test_explicit_declaration_time_starts_the_clock() -> None:
    declared = T0 - timedelta(hours=2)
    f = case_facts("c", [created(declared_at=declared.isoformat())])
    assert f.declared_at == declared
    ack, contain = sla_deadlines(f, POLICY, now=T0)
    assert ack.state == "overdue" and ack.due_at == declared + timedelta(minutes=15)
    assert ack.remaining == -timedelta(hours=1, minutes=45)
    assert contain.state == "pending" and contain.remaining == timedelta(hours=2)


def test_skipping_straight_to_closed_counts_as_acknowledged_and_contained() -> None:
    f = case_facts("c", [created(), updated(at(minutes=5), status=("new", "closed"))])
    assert f.acknowledged_at == f.contained_at == f.closed_at == at(minutes=5)


def test_reopening_clears_closed_but_keeps_first_containment() -> None:
    f = case_facts(
        "c",
        [
            created(),
            updated(at(hours=1), status=("new", "contained")),
            updated(at(hours=2), status=("contained", "closed")),
            updated(at(hours=3), status=("closed", "triaged")),
        ],
    )
    assert f.closed_at is None and f.status == "triaged"
    assert f.contained_at == at(hours=1)


@pytest.mark.parametrize(
    ("ack_after", "now_after", "state"),
    [
        (timedelta(minutes=15), None, "met"),  # exactly on the due time is on time
        (timedelta(minutes=15, microseconds=1), None, "breached"),
        (None, timedelta(minutes=15), "pending"),
        (None, timedelta(minutes=15, microseconds=1), "overdue"),
    ],
)
def test_acknowledge_sla_boundaries(
    ack_after: timedelta | None, now_after: timedelta | None, state: str
) -> None:
    events = [created()]
    if ack_after is not None:
        events.append(updated(T0 + ack_after, status=("new", "triaged")))
    f = case_facts("c", events)
    ack, _ = sla_deadlines(f, POLICY, now=T0 + (now_after or timedelta(days=1)))
    assert ack.state == state


def test_targets_follow_the_current_severity() -> None:
    f = case_facts(
        "c",
        [created(severity="P3"), updated(at(minutes=30), severity=("P3", "P1"))],
    )
    ack, contain = sla_deadlines(f, POLICY, now=at(hours=1))
    assert ack.due_at == at(minutes=15) and ack.state == "overdue"
    assert contain.due_at == at(hours=4)


def test_notification_deadline_from_when_the_duty_arose() -> None:
    f = case_facts(
        "c",
        [
            created(),
            updated(at(hours=5), personal_data=(False, True)),
            updated(at(hours=6), notification_required=(False, True)),
        ],
    )
    assert f.aware_at == at(hours=6)
    d = notification_deadline(f, POLICY, now=at(hours=77))
    assert d.state == "pending" and d.due_at == at(hours=78)
    assert notification_deadline(f, POLICY, now=at(hours=78, seconds=1)).state == "overdue"


def test_explicit_awareness_and_late_notification() -> None:
    aware = at(hours=-10)
    f = case_facts(
        "c",
        [
            created(notification_required=True, aware_at=aware.isoformat()),
            updated(at(hours=70), notified_at=(None, at(hours=61).isoformat())),
        ],
    )
    d = notification_deadline(f, POLICY, now=at(hours=80))
    assert d.due_at == aware + timedelta(hours=72)
    assert d.state == "met" and d.took == timedelta(hours=71)
    late = IncidentPolicy(notification_hours=24)
    assert notification_deadline(f, late, now=at(hours=80)).state == "breached"


def test_no_duty_no_deadline() -> None:
    f = case_facts("c", [created(personal_data=True)])
    d = notification_deadline(f, POLICY, now=at(days=30))
    assert d.state == "not_required" and d.due_at is None


def test_clearing_a_notification_reopens_the_deadline() -> None:
    f = case_facts(
        "c",
        [
            created(notification_required=True),
            updated(at(hours=1), notified_at=(None, at(hours=1).isoformat())),
            updated(at(hours=2), notified_at=(at(hours=1).isoformat(), None)),
        ],
    )
    assert f.notified_at is None
    assert notification_deadline(f, POLICY, now=at(hours=73)).state == "overdue"


def test_hold_events_set_the_flag() -> None:
    f = case_facts(
        "c",
        [
            created(),
            event("hold.set", at(hours=1), {"reason": "x", "objects": 0}),
            event("hold.released", at(hours=2), {"reason": "y", "objects": 0}),
            event("hold.set", at(hours=3), {"reason": "z", "objects": 0}),
        ],
    )
    assert f.legal_hold


def test_a_case_without_creation_event_is_refused() -> None:
    with pytest.raises(ValueError, match="no case.created"):
        case_facts("c", [updated(T0, status=("new", "triaged"))])


def test_malformed_bodies_do_not_crash() -> None:
    f = case_facts(
        "c",
        [
            created(declared_at="not a time"),
            event("case.updated", at(minutes=1), {"changes": "nope"}),
            event("case.updated", at(minutes=2), {"changes": {"status": ["new"]}}),
            updated(at(minutes=3), aware_at=(None, 42)),
        ],
    )
    assert f.declared_at == T0 and f.acknowledged_at is None and f.aware_at is None


def _metrics_facts() -> list:  # type: ignore[type-arg]
    p1a = case_facts(
        "a",
        [
            created(),
            updated(at(minutes=10), status=("new", "triaged")),
            updated(at(hours=2), status=("triaged", "contained")),
        ],
    )
    p1b = case_facts(
        "b",
        [
            created(at(days=1)),
            updated(at(days=1, minutes=20), status=("new", "triaged")),
            updated(at(days=1, hours=6), status=("triaged", "contained")),
        ],
    )
    p2_open = case_facts("c", [created(at(days=2), severity="P2")])
    old = case_facts(
        "d",
        [created(at(days=-60)), updated(at(days=-60, minutes=1), status=("new", "closed"))],
    )
    notify = case_facts("e", [created(at(days=3), severity="P4", notification_required=True)])
    return [p1a, p1b, p2_open, old, notify]


def test_mtta_and_mttc_per_severity_over_a_period() -> None:
    m = compute_metrics(
        _metrics_facts(), POLICY, since=at(days=-1), until=at(days=5), now=at(days=4)
    )
    by = {s.severity: s for s in m.per_severity}
    p1 = by["P1"]
    assert p1.declared == 2 and p1.acknowledged == 2 and p1.contained == 2
    assert p1.mtta == timedelta(minutes=15)  # mean of 10 and 20 minutes
    assert p1.mttc == timedelta(hours=4)  # mean of 2 and 6 hours
    assert p1.acknowledge_breaches == 1 and p1.contain_breaches == 1  # 20 min > 15, 6 h > 4
    assert by["P2"].declared == 1 and by["P2"].mtta is None
    assert by["P2"].acknowledge_breaches == 1  # open and past its hour: overdue counts
    assert by["P3"].declared == 0 and by["P3"].mtta is None
    assert by["P4"].declared == 1


def test_overdue_lists_every_open_deadline_past_due() -> None:
    m = compute_metrics(
        _metrics_facts(), POLICY, since=at(days=-1), until=at(days=5), now=at(days=4)
    )
    got = [(o.case_id, o.deadline.kind) for o in m.overdue]
    # P2 opened day 2: acknowledge (1 h) and contain (24 h) both past due on day 4.
    assert got == [("c", "acknowledge"), ("c", "contain")]
    assert [p.case_id for p in m.notifications_pending] == ["e"]
    later = compute_metrics(
        _metrics_facts(), POLICY, since=at(days=-1), until=at(days=5), now=at(days=6, hours=1)
    )
    assert ("e", "notify") in [(o.case_id, o.deadline.kind) for o in later.overdue]
    assert later.notifications_pending == ()


def test_period_excludes_incidents_declared_outside_it() -> None:
    m = compute_metrics(
        _metrics_facts(), POLICY, since=at(days=-90), until=at(days=-30), now=at(days=4)
    )
    p1 = next(s for s in m.per_severity if s.severity == "P1")
    assert p1.declared == 1 and p1.mtta == timedelta(minutes=1)


def test_metrics_json_shape() -> None:
    m = compute_metrics(
        _metrics_facts(), POLICY, since=at(days=-1), until=at(days=5), now=at(days=4)
    ).to_json()
    assert m["per_severity"][0]["mtta_seconds"] == 900.0
    assert m["per_severity"][0]["acknowledge_target_seconds"] == 900.0
    assert m["overdue"][0] == {
        "case": "c",
        "title": "Ransomware on FS01",
        "severity": "P2",
        "kind": "acknowledge",
        "due_at": at(days=2, hours=1).isoformat(),
        "overdue_seconds": timedelta(days=1, hours=23).total_seconds(),
    }


def test_empty_period_is_refused() -> None:
    with pytest.raises(ValueError):
        compute_metrics([], POLICY, since=T0, until=T0, now=T0)


def test_policy_overrides_merge_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCARD_SLA", '{"P1": {"acknowledge_minutes": 5}}')
    monkeypatch.setenv("LOCARD_NOTIFICATION_HOURS", "24")
    p = IncidentPolicy()
    assert p.sla["P1"] == SlaTarget(acknowledge_minutes=5, contain_minutes=240)
    assert p.sla["P2"].acknowledge_minutes == 60
    assert p.notification_window == timedelta(hours=24)
    f = case_facts("c", [created()])
    ack, _, _ = case_deadlines(f, p, now=T0)
    assert ack.due_at == at(minutes=5)


@pytest.mark.parametrize(
    "sla",
    ['{"P9": {"acknowledge_minutes": 5}}', '{"P1": {"acknowledge_minutes": 0}}', '{"P1": 3}'],
)
def test_bad_policy_is_refused(monkeypatch: pytest.MonkeyPatch, sla: str) -> None:
    monkeypatch.setenv("LOCARD_SLA", sla)
    with pytest.raises(ValidationError):
        IncidentPolicy()


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=42), "42 s"),
        (timedelta(minutes=15), "15 min"),
        (timedelta(hours=1, minutes=5), "1 h 05 min"),
        (timedelta(days=3, hours=4, minutes=59), "3 d 4 h"),
        (-timedelta(hours=2), "-2 h 00 min"),
        (None, "—"),
    ],
)
def test_human_duration(delta: timedelta | None, text: str) -> None:
    assert human_duration(delta) == text
