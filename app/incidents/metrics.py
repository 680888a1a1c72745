"""Incident facts, SLAs, notification deadlines, MTTA and MTTC — pure functions of ledger events.

Nothing here reads a clock or a database: callers pass the events of a case (its
`case:<id>` chain, in ledger order) and `now`. Times come from sealed events only:

- declared: the `declared_at` the `case.created` body states, else that event's time;
- acknowledged: the first status change to `triaged` or later;
- contained: the first status change to `contained` or later (closing a false
  positive straight from triage counts: nothing is left to contain), or, where the
  policy names `first_action`, the first containment action that succeeded or partly did;
- closed: the latest change to `closed`, cleared again if the case is reopened;
- awareness (notification clock): an explicit `aware_at`, else the time the duty to
  notify was first recorded.

A status change counts from when it took effect as told (its `occurred_at`), and a
containment action from when it was performed, not from when the vault sealed them.

Severity is the case's current one: a case upgraded to P1 is held to P1 targets.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from app.cases.models import STATUS_ORDER, Severity
from app.events import EventType, occurred_at
from app.incidents.policy import IncidentPolicy
from verify.events import Event

Clock = Callable[[], datetime]
DeadlineState = Literal["met", "breached", "pending", "overdue", "not_required"]
DeadlineKind = Literal["acknowledge", "contain", "notify"]
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}
_TRIAGED, _CONTAINED, _RECOVERED = _RANK["triaged"], _RANK["contained"], _RANK["recovered"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _time(value: Any) -> datetime | None:
    """An ISO time from an event body; anything unreadable counts as absent, never a crash."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    old: str | None
    new: str
    actor: str


@dataclass(frozen=True)
class CaseFacts:
    case_id: str
    title: str
    severity: str
    status: str
    owner: str
    declared_at: datetime
    acknowledged_at: datetime | None
    contained_at: datetime | None
    closed_at: datetime | None
    personal_data: bool
    notification_required: bool
    #: when the notification clock started (explicit awareness or when the duty arose)
    aware_at: datetime | None
    notified_at: datetime | None
    legal_hold: bool
    history: tuple[StatusChange, ...] = ()
    #: first status change to `recovered` or later (MTTR runs from declaration to it)
    recovered_at: datetime | None = None
    #: as told in the latest `case.assessed` (MTTD runs from first activity to detection)
    first_activity_at: datetime | None = None
    detected_at: datetime | None = None
    root_cause: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


@dataclass
class _Fold:
    case_id: str
    title: str = ""
    severity: str = "P1"
    status: str = "new"
    owner: str = ""
    declared_at: datetime | None = None
    acknowledged_at: datetime | None = None
    contained_at: datetime | None = None
    closed_at: datetime | None = None
    personal_data: bool = False
    notification_required: bool = False
    explicit_aware: datetime | None = None
    duty_since: datetime | None = None
    notified_at: datetime | None = None
    legal_hold: bool = False
    history: list[StatusChange] = field(default_factory=list)
    recovered_at: datetime | None = None
    first_activity_at: datetime | None = None
    detected_at: datetime | None = None
    root_cause: str | None = None

    def status_to(self, new: str, at: datetime, old: str | None, actor: str) -> None:
        rank = _RANK.get(new, 0)
        if rank >= _TRIAGED and self.acknowledged_at is None:
            self.acknowledged_at = at
        if rank >= _CONTAINED and self.contained_at is None:
            self.contained_at = at
        if rank >= _RECOVERED and self.recovered_at is None:
            self.recovered_at = at
        self.closed_at = at if new == "closed" else None
        self.status = new
        self.history.append(StatusChange(at, old, new, actor))

    def duty(self, required: bool, at: datetime) -> None:
        if required and self.duty_since is None:
            self.duty_since = at
        self.notification_required = required


def case_facts(case_id: str, events: Iterable[Event], contained_from: str = "status") -> CaseFacts:
    """Fold the events of one case (ledger order) into its incident facts.

    Raises ValueError if there is no `case.created` event: such a case has no
    declaration time, so nothing can be measured.
    """
    f = _Fold(case_id)
    first_action: datetime | None = None
    for ev in events:
        b = ev.body
        effective = occurred_at(ev)
        if ev.type == EventType.containment and b.get("outcome") in ("succeeded", "partial"):
            first_action = effective if first_action is None else min(first_action, effective)
        if ev.type == EventType.case_created:
            f.title = str(b.get("title", ""))
            f.severity = str(b.get("severity", "P1"))
            f.owner = str(b.get("owner", ev.actor_id))
            f.declared_at = _time(b.get("declared_at")) or ev.at
            f.personal_data = b.get("personal_data") is True
            f.explicit_aware = _time(b.get("aware_at"))
            f.duty(b.get("notification_required") is True, f.declared_at)
            f.status_to(str(b.get("status", "new")), ev.at, None, ev.actor_id)
            f.history.pop()  # creation is not a status *change*
        elif ev.type == EventType.case_updated and f.declared_at is not None:
            changes = b.get("changes")
            if not isinstance(changes, dict):
                continue
            for name, pair in changes.items():
                if not (isinstance(pair, list) and len(pair) == 2):
                    continue
                old, new = pair
                if name == "status" and isinstance(new, str):
                    f.status_to(new, effective, old if isinstance(old, str) else None, ev.actor_id)
                elif name == "severity" and isinstance(new, str):
                    f.severity = new
                elif name == "owner" and isinstance(new, str):
                    f.owner = new
                elif name == "title" and isinstance(new, str):
                    f.title = new
                elif name == "personal_data":
                    f.personal_data = new is True
                elif name == "notification_required":
                    f.duty(new is True, ev.at)
                elif name == "aware_at":
                    f.explicit_aware = _time(new)
                elif name == "notified_at":
                    f.notified_at = _time(new)
        elif ev.type == EventType.case_assessed:
            f.first_activity_at = _time(b.get("first_activity_at"))
            f.detected_at = _time(b.get("detected_at"))
            cause = b.get("root_cause")
            f.root_cause = cause if isinstance(cause, str) and cause.strip() else None
        elif ev.type in (EventType.hold_set, EventType.hold_released):
            f.legal_hold = ev.type == EventType.hold_set
    if f.declared_at is None:
        raise ValueError(f"no case.created event for {case_id}")
    if contained_from == "first_action" and first_action is not None:
        f.contained_at = first_action
    return CaseFacts(
        case_id=case_id,
        title=f.title,
        severity=f.severity,
        status=f.status,
        owner=f.owner,
        declared_at=f.declared_at,
        acknowledged_at=f.acknowledged_at,
        contained_at=f.contained_at,
        closed_at=f.closed_at,
        personal_data=f.personal_data,
        notification_required=f.notification_required,
        aware_at=f.explicit_aware or f.duty_since,
        notified_at=f.notified_at,
        legal_hold=f.legal_hold,
        history=tuple(f.history),
        recovered_at=f.recovered_at,
        first_activity_at=f.first_activity_at,
        detected_at=f.detected_at,
        root_cause=f.root_cause,
    )


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    state: DeadlineState
    #: when the clock started (declaration, or awareness for notification)
    start: datetime | None
    due_at: datetime | None
    done_at: datetime | None
    #: due_at - now while open (negative once overdue); None when done or not required
    remaining: timedelta | None
    #: done_at - start once done
    took: timedelta | None

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        def secs(d: timedelta | None) -> float | None:
            return d.total_seconds() if d is not None else None

        return {
            "kind": self.kind,
            "state": self.state,
            "start": iso(self.start),
            "due_at": iso(self.due_at),
            "done_at": iso(self.done_at),
            "remaining_seconds": secs(self.remaining),
            "took_seconds": secs(self.took),
        }


def deadline(
    kind: DeadlineKind, start: datetime, window: timedelta, done: datetime | None, now: datetime
) -> Deadline:
    """Met if done by the due time, breached if done late; pending or overdue while open."""
    due = start + window
    if done is not None:
        state: DeadlineState = "met" if done <= due else "breached"
        return Deadline(kind, state, start, due, done, None, max(done - start, timedelta(0)))
    return Deadline(kind, "pending" if now <= due else "overdue", start, due, None, due - now, None)


def sla_deadlines(facts: CaseFacts, policy: IncidentPolicy, now: datetime) -> list[Deadline]:
    target = policy.target(facts.severity)
    return [
        deadline("acknowledge", facts.declared_at, target.acknowledge, facts.acknowledged_at, now),
        deadline("contain", facts.declared_at, target.contain, facts.contained_at, now),
    ]


def notification_deadline(facts: CaseFacts, policy: IncidentPolicy, now: datetime) -> Deadline:
    """The duty's deadline. A notification made although none was required is still shown."""
    if not facts.notification_required or facts.aware_at is None:
        return Deadline("notify", "not_required", None, None, facts.notified_at, None, None)
    return deadline("notify", facts.aware_at, policy.notification_window, facts.notified_at, now)


def case_deadlines(facts: CaseFacts, policy: IncidentPolicy, now: datetime) -> list[Deadline]:
    return [*sla_deadlines(facts, policy, now), notification_deadline(facts, policy, now)]


@dataclass(frozen=True)
class SeverityMetrics:
    severity: str
    declared: int
    acknowledged: int
    contained: int
    mtta: timedelta | None
    mttc: timedelta | None
    median_tta: timedelta | None
    median_ttc: timedelta | None
    acknowledge_target: timedelta
    contain_target: timedelta
    acknowledge_breaches: int
    contain_breaches: int

    def to_json(self) -> dict[str, Any]:
        def secs(d: timedelta | None) -> float | None:
            return d.total_seconds() if d is not None else None

        return {
            "severity": self.severity,
            "declared": self.declared,
            "acknowledged": self.acknowledged,
            "contained": self.contained,
            "mtta_seconds": secs(self.mtta),
            "mttc_seconds": secs(self.mttc),
            "median_tta_seconds": secs(self.median_tta),
            "median_ttc_seconds": secs(self.median_ttc),
            "acknowledge_target_seconds": secs(self.acknowledge_target),
            "contain_target_seconds": secs(self.contain_target),
            "acknowledge_breaches": self.acknowledge_breaches,
            "contain_breaches": self.contain_breaches,
        }


@dataclass(frozen=True)
class OverdueItem:
    case_id: str
    title: str
    severity: str
    deadline: Deadline

    def to_json(self) -> dict[str, Any]:
        assert self.deadline.remaining is not None
        return {
            "case": self.case_id,
            "title": self.title,
            "severity": self.severity,
            "kind": self.deadline.kind,
            "due_at": self.deadline.due_at.isoformat() if self.deadline.due_at else None,
            "overdue_seconds": -self.deadline.remaining.total_seconds(),
        }


@dataclass(frozen=True)
class Metrics:
    since: datetime
    until: datetime
    now: datetime
    per_severity: tuple[SeverityMetrics, ...]
    overdue: tuple[OverdueItem, ...]
    notifications_pending: tuple[OverdueItem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "now": self.now.isoformat(),
            "per_severity": [m.to_json() for m in self.per_severity],
            "overdue": [o.to_json() for o in self.overdue],
            "notifications_pending": [
                {
                    "case": p.case_id,
                    "title": p.title,
                    "severity": p.severity,
                    "due_at": p.deadline.due_at.isoformat() if p.deadline.due_at else None,
                    "remaining_seconds": (
                        p.deadline.remaining.total_seconds() if p.deadline.remaining else None
                    ),
                }
                for p in self.notifications_pending
            ],
        }


def _mean(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.fmean(v.total_seconds() for v in values))


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def compute_metrics(
    facts: Iterable[CaseFacts],
    policy: IncidentPolicy,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
) -> Metrics:
    """MTTA/MTTC per severity over incidents *declared* in [since, until), and what is
    overdue now (whenever it was declared: an old incident still open is still late)."""
    if until <= since:
        raise ValueError("the period must end after it starts")
    all_facts = list(facts)
    per: list[SeverityMetrics] = []
    for sev in SEVERITIES:
        group = [f for f in all_facts if f.severity == sev and since <= f.declared_at < until]
        target = policy.target(sev)
        tta, ttc = [], []
        ack_breach = contain_breach = 0
        for f in group:
            ack, contain = sla_deadlines(f, policy, now)
            if ack.took is not None:
                tta.append(ack.took)
            if contain.took is not None:
                ttc.append(contain.took)
            ack_breach += ack.state in ("breached", "overdue")
            contain_breach += contain.state in ("breached", "overdue")
        per.append(
            SeverityMetrics(
                severity=sev,
                declared=len(group),
                acknowledged=len(tta),
                contained=len(ttc),
                mtta=_mean(tta),
                mttc=_mean(ttc),
                median_tta=_median(tta),
                median_ttc=_median(ttc),
                acknowledge_target=target.acknowledge,
                contain_target=target.contain,
                acknowledge_breaches=ack_breach,
                contain_breaches=contain_breach,
            )
        )
    overdue: list[OverdueItem] = []
    pending: list[OverdueItem] = []
    for f in all_facts:
        for d in case_deadlines(f, policy, now):
            # A closed case no longer owes acknowledgement or containment (closing sets
            # both), but an unmade notification stays owed after closing.
            if d.state == "overdue":
                overdue.append(OverdueItem(f.case_id, f.title, f.severity, d))
            elif d.state == "pending" and d.kind == "notify":
                pending.append(OverdueItem(f.case_id, f.title, f.severity, d))
    overdue.sort(key=lambda o: (o.deadline.due_at or now, o.case_id))
    pending.sort(key=lambda o: (o.deadline.due_at or now, o.case_id))
    return Metrics(since, until, now, tuple(per), tuple(overdue), tuple(pending))


def human_duration(d: timedelta | None) -> str:
    """'1 h 05 min', '3 d 4 h', '42 s': short enough for a table cell or a chart label."""
    if d is None:
        return "—"
    total = int(abs(d.total_seconds()))
    sign = "-" if d.total_seconds() < 0 else ""
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min"
    return f"{sign}{seconds} s"
