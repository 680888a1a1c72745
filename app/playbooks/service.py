"""Classifying a case (which assigns its playbook) and recording its checklist steps.

Both are ledger events whose projections write the rows read here; each is sealed only
if the state the caller decided on still holds (two responders ticking the same step:
one is sealed, the other gets 409 with who recorded it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Engine
from sqlmodel import col, select

from app.auth.models import Principal, Role
from app.cases.service import readable_case, writable_case
from app.db import session
from app.errors import BadRequest, Conflict, Forbidden, NotFound
from app.events import EventType, event_time, record
from app.events.catalogue import iso
from app.events.playbook_events import CaseClassified, StepRecorded, StepSnapshot
from app.events.preconditions import ClassificationIs, StepPending
from app.playbooks import webhook
from app.playbooks.definitions import Phase, Playbook
from app.playbooks.models import CasePlaybook, PlaybookStep
from app.text import MultiLine
from app.vault import Vault
from custody.ledger import Receipt


class Outcome(StrEnum):
    done = "done"
    skipped = "skipped"
    deviated = "deviated"


class UnknownScenario(BadRequest):
    """A scenario no playbook file describes."""


class NotClassified(Conflict):
    """Steps are recorded against a playbook, and the case has none yet."""


class ClassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: Annotated[str, Field(min_length=1, max_length=64)]


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    reason: Annotated[MultiLine | None, Field(max_length=4000)] = None
    #: when it was done, as told (with a zone); omitted: now
    occurred_at: datetime | None = None

    @field_validator("reason")
    @classmethod
    def _blank(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        if v.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone (e.g. Z)")
        try:
            return v.astimezone(UTC)
        except OverflowError:
            raise ValueError("occurred_at is outside the representable range") from None

    @model_validator(mode="after")
    def _reason_needed(self) -> StepIn:
        if self.outcome != Outcome.done and not self.reason:
            raise ValueError(f"a {self.outcome.value} step needs a reason")
        return self


@dataclass(frozen=True)
class Checklist:
    case_id: str
    playbook: CasePlaybook | None
    steps: list[PlaybookStep]

    @property
    def open(self) -> int:
        return sum(1 for s in self.steps if s.state == "pending")

    def to_json(self) -> dict[str, Any]:
        p = self.playbook
        return {
            "case": self.case_id,
            "scenario": p.scenario if p else None,
            "playbook": None
            if p is None
            else {
                "title": p.title,
                "version": p.version,
                "sha256": p.sha256,
                "classified_at": p.classified_at.isoformat(),
                "classified_by": p.classified_by,
            },
            "open": self.open,
            "steps": [
                {
                    "id": s.step_id,
                    "position": s.position,
                    "title": s.title,
                    "phase": s.phase,
                    "action": s.action,
                    "preauthorised": s.action is not None,
                    "guidance": s.guidance,
                    "state": s.state,
                    "reason": s.reason,
                    "occurred_at": iso(s.occurred_at),
                    "recorded_by": s.recorded_by,
                    "recorded_index": s.recorded_index,
                }
                for s in self.steps
            ],
        }


def _read(engine: Engine, case_id: str) -> Checklist:
    with session(engine) as s:
        book = s.get(CasePlaybook, case_id)
        steps = list(
            s.exec(
                select(PlaybookStep)
                .where(PlaybookStep.case_id == case_id)
                .order_by(col(PlaybookStep.position))
            ).all()
        )
        for row in [book, *steps]:
            if row is not None:
                s.expunge(row)
    return Checklist(case_id, book, steps)


def checklist(engine: Engine, who: Principal, case_id: str) -> Checklist:
    case = readable_case(engine, case_id, who)
    return _read(engine, case.id)


def playbook_json(book: Playbook) -> dict[str, Any]:
    return book.model_dump(mode="json")


def classify(
    vault: Vault, who: Principal, case_id: str, scenario: str, books: dict[str, Playbook]
) -> tuple[Checklist, Receipt | None]:
    """Responders classify; the scenario's playbook becomes the case's checklist."""
    case = writable_case(vault.engine, case_id, who)
    book = books.get(scenario)
    if book is None:
        raise UnknownScenario(f"no playbook for scenario {scenario!r}; one of {sorted(books)}")
    current = _read(vault.engine, case.id).playbook
    previous = current.scenario if current else None
    if previous == scenario:
        return _read(vault.engine, case.id), None
    body = CaseClassified(
        scenario=book.scenario,
        previous=previous,
        title=book.title,
        version=book.version,
        sha256=book.sha256,
        steps=[
            StepSnapshot(
                id=s.id,
                title=s.title,
                phase=s.phase.value,
                action=s.action.value if s.action else None,
                guidance=s.guidance,
            )
            for s in book.steps
        ],
    )
    receipt = record(
        vault,
        who,
        EventType.case_classified,
        body,
        case=case.id,
        preconditions=[ClassificationIs(case.id, previous)],
    )
    return _read(vault.engine, case.id), receipt


def may_record(engine: Engine, who: Principal, case_id: str, step: PlaybookStep) -> bool:
    """Responders on the case record any step; legal records the communication steps."""
    if who.role == Role.legal:
        return step.phase == Phase.communication.value
    try:
        writable_case(engine, case_id, who)
    except Forbidden:
        return False
    return True


def record_step(
    vault: Vault, who: Principal, case_id: str, step_id: str, data: StepIn
) -> tuple[Checklist, Receipt, str | None]:
    """The checklist after the step, its receipt, and whether the webhook was told."""
    case = readable_case(vault.engine, case_id, who)
    if who.role == Role.auditor:  # refused whatever the case's state
        raise Forbidden("auditors read; they do not record playbook steps")
    current = _read(vault.engine, case.id)
    if current.playbook is None:
        raise NotClassified(f"case {case.id} is not classified yet: it has no playbook")
    step = next((s for s in current.steps if s.step_id == step_id), None)
    if step is None:
        raise NotFound(f"no step {step_id!r} in the {current.playbook.scenario} playbook")
    if not may_record(vault.engine, who, case.id, step):
        raise Forbidden(f"role {who.role!r} may not record the {step.phase} step {step_id!r}")
    body = StepRecorded(
        scenario=current.playbook.scenario,
        step=step.step_id,
        title=step.title,
        outcome=data.outcome.value,
        reason=data.reason,
        # the seal refuses a time after its own
        occurred_at=iso(data.occurred_at),
    )
    receipt = record(
        vault,
        who,
        EventType.playbook_step,
        body,
        case=case.id,
        preconditions=[StepPending(case.id, current.playbook.scenario, step.step_id)],
    )
    return (
        _read(vault.engine, case.id),
        receipt,
        webhook.notify(vault.settings, _notice(case.id, step, body, receipt)),
    )


def _notice(
    case_id: str, step: PlaybookStep, body: StepRecorded, receipt: Receipt
) -> dict[str, Any]:
    return {
        "type": EventType.playbook_step.value,
        "case": case_id,
        "scenario": body.scenario,
        "step": step.step_id,
        "title": step.title,
        "action": step.action,
        "outcome": body.outcome,
        "reason": body.reason,
        "occurred_at": body.occurred_at or event_time(receipt).isoformat(),
        "leaf_index": receipt.event.index,
        "leaf_hash": receipt.event.leaf_hash.hex(),
    }
