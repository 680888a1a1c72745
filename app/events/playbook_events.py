"""Playbook events: a case classified (its playbook copied in), and each checklist step
done, skipped or deviated from, with when that happened as told."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, delete

from app.events.catalogue import Body, EventSpec, EventType, declare, parse_time
from app.events.phrases import Names
from app.events.text import short
from app.playbooks.models import CasePlaybook, PlaybookStep
from verify.events import Event

#: the step outcomes a responder records; "pending" is only the state before one
OUTCOMES = ("done", "skipped", "deviated")


class StepSnapshot(Body):
    id: str
    title: str
    phase: str
    action: str | None
    guidance: str


class CaseClassified(Body):
    """The playbook as it was when the case was classified: editing the file later
    changes new cases only."""

    scenario: str
    previous: str | None
    title: str
    version: int
    sha256: str
    steps: list[StepSnapshot]


class StepRecorded(Body):
    scenario: str
    step: str
    title: str
    outcome: str
    #: why skipped, how and why deviated (required for those); a note when done
    reason: str | None
    #: when it was done, as told; null: when it was recorded (the sealed time)
    occurred_at: str | None


def _project_classified(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    assert ev.case is not None
    b = CASE_CLASSIFIED.parse(ev)
    assert isinstance(b, CaseClassified)
    # A reclassified case gets the new playbook's checklist; what was recorded against
    # the old one stays in the ledger (and on the timeline).
    s.exec(delete(PlaybookStep).where(col(PlaybookStep.case_id) == ev.case))
    old = s.get(CasePlaybook, ev.case)
    if old is not None:
        s.delete(old)
        s.flush()
    s.add(
        CasePlaybook(
            case_id=ev.case,
            scenario=b.scenario,
            title=b.title,
            version=b.version,
            sha256=b.sha256,
            classified_at=ev.at,
            classified_by=ev.actor_id,
        )
    )
    for n, step in enumerate(b.steps, start=1):
        s.add(
            PlaybookStep(
                case_id=ev.case,
                step_id=step.id,
                position=n,
                title=step.title,
                phase=step.phase,
                action=step.action,
                guidance=step.guidance,
                state="pending",
            )
        )


def _project_step(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    assert ev.case is not None
    b = PLAYBOOK_STEP.parse(ev)
    assert isinstance(b, StepRecorded)
    row = s.get(PlaybookStep, (ev.case, b.step))
    if row is None:
        raise ValueError(f"event about unknown playbook step {ev.case}/{b.step}")
    row.state = b.outcome
    row.reason = b.reason
    row.occurred_at = parse_time(b.occurred_at) or ev.at
    row.recorded_by = ev.actor_id
    row.recorded_index = index
    s.add(row)


def _summary_classified(ev: Event, names: Names) -> str:
    b = ev.body
    steps = b.get("steps")
    n = len(steps) if isinstance(steps, list) else 0
    was = f" (was {b.get('previous')})" if b.get("previous") else ""
    return (
        f"Classified as {short(b.get('title'))}{was}: playbook version {b.get('version')} "
        f"with {n} steps assigned"
    )


_VERB = {"done": "done", "skipped": "skipped", "deviated": "deviated from"}


def _summary_step(ev: Event, names: Names) -> str:
    b = ev.body
    verb = _VERB.get(str(b.get("outcome")), str(b.get("outcome")))
    text = f"Playbook step “{short(b.get('title'), 80)}” {verb} by {ev.actor_id}"
    return f"{text}: {short(b.get('reason'))}" if b.get("reason") else text


CASE_CLASSIFIED = declare(
    EventSpec(
        EventType.case_classified,
        "playbook",
        {1: CaseClassified},
        _summary_classified,
        project=_project_classified,
    )
)
PLAYBOOK_STEP = declare(
    EventSpec(
        EventType.playbook_step,
        "playbook",
        {1: StepRecorded},
        _summary_step,
        project=_project_step,
        occurred=lambda ev: parse_time(ev.body.get("occurred_at")),
    )
)
