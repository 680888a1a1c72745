"""Reading incident context from the ledger index, and recording notes and decisions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.auth.models import Principal, Role
from app.cases.models import Case
from app.cases.service import list_cases, readable_case, writable_case
from app.errors import BadRequest, Forbidden
from app.events import EventType, record
from app.events.case_events import Text
from app.events.catalogue import iso
from app.events.incident_events import Assessment
from app.events.preconditions import CaseExists
from app.incidents import timeline
from app.incidents.metrics import (
    CaseFacts,
    Deadline,
    Metrics,
    case_deadlines,
    case_facts,
    compute_metrics,
)
from app.incidents.policy import IncidentPolicy
from app.vault import Vault
from custody.ledger import Receipt
from custody.reader import LedgerReader
from verify.events import Event, chain_key, decode_event


def ledger_clock(vault: Vault) -> Callable[[], datetime]:
    """The clock for "now": the one that stamps events, so a deadline and the event that
    meets it are compared on one time scale (and tests fix both with one clock)."""
    return vault.ledger.clock


def case_events(engine: Engine, case_id: str) -> list[tuple[int, Event]]:
    """Every sealed event about the case (case chain and all its items), ledger order."""
    return [(e.index, decode_event(e.canonical)) for e in LedgerReader(engine).case_events(case_id)]


def facts(vault: Vault, case_id: str, contained_from: str = "status") -> CaseFacts:
    events = [decode_event(e.canonical) for e in vault.ledger.chain(chain_key(case_id, None))]
    return case_facts(case_id, events, contained_from)


def visible_facts(
    engine: Engine, who: Principal, contained_from: str = "status"
) -> list[CaseFacts]:
    """Facts of every case the principal may read, from one scan of case-level events."""
    visible = {c.id for c in list_cases(engine, who)}
    by_case: dict[str, list[Event]] = defaultdict(list)
    for e in LedgerReader(engine).case_level_events():
        if e.case in visible:
            by_case[e.case].append(decode_event(e.canonical))
    out = []
    for case_id, events in by_case.items():
        try:
            out.append(case_facts(case_id, events, contained_from))
        except ValueError:
            continue  # no creation event (cannot happen through the API): nothing to measure
    return out


@dataclass(frozen=True)
class IncidentView:
    case: Case
    facts: CaseFacts
    deadlines: list[Deadline]
    now: datetime

    def deadline(self, kind: str) -> Deadline:
        return next(d for d in self.deadlines if d.kind == kind)

    def to_json(self) -> dict[str, Any]:
        f = self.facts

        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "case": self.case.id,
            "now": self.now.isoformat(),
            "severity": f.severity,
            "status": f.status,
            "owner": f.owner,
            "times": {
                "declared_at": iso(f.declared_at),
                "acknowledged_at": iso(f.acknowledged_at),
                "contained_at": iso(f.contained_at),
                "closed_at": iso(f.closed_at),
            },
            "status_history": [
                {"at": iso(h.at), "from": h.old, "to": h.new, "actor": h.actor} for h in f.history
            ],
            "sla": {d.kind: d.to_json() for d in self.deadlines if d.kind != "notify"},
            "privacy": {
                "personal_data": f.personal_data,
                "notification_required": f.notification_required,
                "aware_at": iso(f.aware_at),
                "notified_at": iso(f.notified_at),
                "notification": self.deadline("notify").to_json(),
            },
            "legal_hold": f.legal_hold,
        }


def incident(vault: Vault, who: Principal, case_id: str, policy: IncidentPolicy) -> IncidentView:
    case = readable_case(vault.engine, case_id, who)
    f = facts(vault, case.id, policy.contained_from)
    now = ledger_clock(vault)()
    return IncidentView(case, f, case_deadlines(f, policy, now), now)


def metrics(
    vault: Vault, who: Principal, policy: IncidentPolicy, since: datetime, until: datetime
) -> Metrics:
    now = ledger_clock(vault)()
    return compute_metrics(
        visible_facts(vault.engine, who, policy.contained_from),
        policy,
        since=since,
        until=until,
        now=now,
    )


def case_timeline(
    engine: Engine, who: Principal, case_id: str, flt: timeline.TimelineFilter
) -> list[timeline.TimelineEntry]:
    readable_case(engine, case_id, who)
    return timeline.build(case_events(engine, case_id), flt)


class BadAssessment(BadRequest):
    """Times of an assessment that cannot be true (in the future, detection before activity)."""


def assess(
    vault: Vault,
    who: Principal,
    case_id: str,
    first_activity_at: datetime | None,
    detected_at: datetime | None,
    root_cause: str | None,
) -> Receipt:
    """When the activity began and was detected (as told) and the root cause: responders."""
    case = writable_case(vault.engine, case_id, who)
    now = ledger_clock(vault)()
    for name, t in (("first_activity_at", first_activity_at), ("detected_at", detected_at)):
        if t is not None and t > now:
            raise BadAssessment(f"{name} is in the future")
    if first_activity_at and detected_at and detected_at < first_activity_at:
        raise BadAssessment("detected_at is before first_activity_at")
    body = Assessment(
        first_activity_at=iso(first_activity_at),
        detected_at=iso(detected_at),
        root_cause=root_cause or None,
    )
    return record(
        vault, who, EventType.case_assessed, body, case=case.id, preconditions=[CaseExists(case.id)]
    )


def add_note(vault: Vault, who: Principal, case_id: str, kind: str, text: str) -> Receipt:
    """A note or a decision about the case as a whole (annotations are per artifact)."""
    readable_case(vault.engine, case_id, who)
    if who.role == Role.auditor:
        raise Forbidden("auditors read; they do not add to cases")
    kinds = {"note": EventType.case_note, "decision": EventType.case_decision}
    return record(vault, who, kinds[kind], Text(text=text), case=case_id)
