"""Case events: creation (with its allocated number), field changes, members, holds, notes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlmodel import Session, col, func, select

from app.cases.models import Case, CaseMember
from app.events import phrases
from app.events.catalogue import Body, EventSpec, EventType, declare, parse_time
from app.events.phrases import Names
from app.events.text import short
from custody.ledger import EventDraft
from verify.events import Event

#: fields of `case.updated` changes that hold times (ISO strings in the body)
TIME_FIELDS = frozenset({"declared_at", "aware_at", "notified_at"})


class CaseCreatedV1(Body):
    title: str
    severity: str
    status: str
    owner: str
    retention_days: int
    declared_at: str | None = None
    personal_data: bool | None = None
    notification_required: bool | None = None
    aware_at: str | None = None


class CaseCreatedV2(Body):
    """v2 carries the description (v1 lost it: a rebuild could not restore it)."""

    title: str
    description: str
    severity: str
    status: str
    owner: str
    retention_days: int
    declared_at: str | None
    personal_data: bool
    notification_required: bool
    aware_at: str | None


class CaseUpdatedV1(Body):
    changes: dict[str, list[Any]]


class CaseUpdatedV2(Body):
    """v2 adds when the change took effect as told (a status reached earlier)."""

    changes: dict[str, list[Any]]
    occurred_at: str | None = None


class CaseUpdatedV3(Body):
    """v3 adds why, when a change needs one (a closed case reopened)."""

    changes: dict[str, list[Any]]
    occurred_at: str | None = None
    reason: str | None = None


class MemberAdded(Body):
    principal: str
    role: str


class Hold(Body):
    reason: str
    objects: int
    kept_for_other_cases: int


class Text(Body):
    text: str


class DataCategories(Body):
    """The whole set of categories of data the incident affects (keys of the configured
    list, app/cases/data_categories.py), replacing the previous set."""

    categories: list[str]


def member(s: Session, case_id: str, principal: str) -> None:
    if s.get(CaseMember, (case_id, principal)) is None:
        s.add(CaseMember(case_id=case_id, principal_id=principal))
        s.flush()


def _case(s: Session, ev: Event) -> Case:
    assert ev.case is not None
    case = s.get(Case, ev.case)
    if case is None:
        raise ValueError(f"event about unknown case {ev.case}")
    return case


def next_case_id(s: Session, year: int) -> str:
    prefix = f"IR-{year}-"
    count = s.exec(select(func.count()).where(col(Case.id).startswith(prefix))).one()
    return f"{prefix}{count + 1:04d}"


def _allocate_case(s: Session, draft: EventDraft, at: Any) -> EventDraft:
    if draft.case is not None:
        return draft
    return replace(draft, case=next_case_id(s, at.year))


def _project_created(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    assert ev.case is not None
    b = CASE_CREATED.parse(ev)
    assert isinstance(b, CaseCreatedV1 | CaseCreatedV2)
    s.add(
        Case(
            id=ev.case,
            title=b.title,
            description=b.description if isinstance(b, CaseCreatedV2) else "",
            severity=b.severity,
            status=b.status,
            owner=b.owner,
            created_by=ev.actor_id,
            created_at=ev.at,
            updated_at=ev.at,
            legal_hold=False,
            retention_days=b.retention_days,
            declared_at=parse_time(b.declared_at) or ev.at,
            personal_data=b.personal_data is True,
            notification_required=b.notification_required is True,
            aware_at=parse_time(b.aware_at),
        )
    )
    s.flush()
    member(s, ev.case, ev.actor_id)
    member(s, ev.case, b.owner)


def _project_updated(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    case = _case(s, ev)
    b = CASE_UPDATED.parse(ev)
    assert isinstance(b, CaseUpdatedV1 | CaseUpdatedV2 | CaseUpdatedV3)
    for name, pair in b.changes.items():
        if not hasattr(case, name) or name in ("id", "created_at", "created_by"):
            continue
        new = pair[1]
        setattr(case, name, parse_time(new) if name in TIME_FIELDS else new)
    case.updated_at = ev.at
    s.add(case)
    if "owner" in b.changes:
        member(s, case.id, b.changes["owner"][1])


def _project_member(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    assert ev.case is not None
    b = CASE_MEMBER_ADDED.parse(ev)
    assert isinstance(b, MemberAdded)
    member(s, ev.case, b.principal)


def _project_hold(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    case = _case(s, ev)
    case.legal_hold = ev.type == EventType.hold_set
    case.updated_at = ev.at
    s.add(case)


def _updated_occurred(ev: Event) -> Any:
    return parse_time(ev.body.get("occurred_at"))


def _summary_created(ev: Event, names: Names) -> str:
    b = ev.body
    return f"Case opened: {short(b.get('title', ''))} ({b.get('severity', '?')})"


def _summary_updated(ev: Event, names: Names) -> str:
    text = phrases.changes(ev.body.get("changes") or {})
    reason = ev.body.get("reason")
    text = text or "Case updated"
    return f"{text}: {short(reason)}" if reason else text


def _summary_hold(ev: Event, names: Names) -> str:
    b = ev.body
    if ev.type == EventType.hold_set:
        return f"Legal hold placed on {b.get('objects', 0)} object(s): {short(b.get('reason'))}"
    return f"Legal hold released: {short(b.get('reason'))}"


CASE_CREATED = declare(
    EventSpec(
        EventType.case_created,
        "case",
        {1: CaseCreatedV1, 2: CaseCreatedV2},
        _summary_created,
        project=_project_created,
        allocate=_allocate_case,
    )
)
CASE_UPDATED = declare(
    EventSpec(
        EventType.case_updated,
        # a status or field change is the case's own history, not a decision someone noted
        "case",
        {1: CaseUpdatedV1, 2: CaseUpdatedV2, 3: CaseUpdatedV3},
        _summary_updated,
        project=_project_updated,
        occurred=_updated_occurred,
    )
)
CASE_MEMBER_ADDED = declare(
    EventSpec(
        EventType.case_member_added,
        "case",
        {1: MemberAdded},
        lambda ev, names: f"{ev.body.get('principal')} ({ev.body.get('role')}) joined the case",
        project=_project_member,
    )
)
HOLD_SET = declare(
    EventSpec(EventType.hold_set, "legal", {1: Hold}, _summary_hold, project=_project_hold)
)
HOLD_RELEASED = declare(
    EventSpec(EventType.hold_released, "legal", {1: Hold}, _summary_hold, project=_project_hold)
)
CASE_NOTE = declare(
    EventSpec(
        EventType.case_note,
        "note",
        {1: Text},
        lambda ev, names: f"Note: {short(ev.body.get('text'))}",
    )
)
CASE_DECISION = declare(
    EventSpec(
        EventType.case_decision,
        "decision",
        {1: Text},
        lambda ev, names: f"Decision: {short(ev.body.get('text'))}",
    )
)


def _project_categories(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    case = _case(s, ev)
    b = CASE_DATA_CATEGORIES.parse(ev)
    assert isinstance(b, DataCategories)
    case.data_categories = ",".join(b.categories)
    case.updated_at = ev.at
    s.add(case)


def _summary_categories(ev: Event, names: Names) -> str:
    categories = ", ".join(str(c) for c in ev.body.get("categories") or [])
    return f"Data affected: {categories or 'none'}"


CASE_DATA_CATEGORIES = declare(
    EventSpec(
        EventType.case_data_categories,
        "legal",
        {1: DataCategories},
        _summary_categories,
        project=_project_categories,
    )
)
