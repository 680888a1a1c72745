"""Cases: creation with a quotable identifier, membership, status changes — each an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from app.auth.models import Principal, Role
from app.auth.service import get_principal
from app.cases.models import Case, CaseMember, CaseStatus
from app.cases.schemas import CaseCreate, CaseUpdate, PrivacyUpdate
from app.db import exists, read_one, session
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.events import EventType, record, sealed_case
from app.events.case_events import CaseCreatedV2, CaseUpdatedV3, Hold, MemberAdded
from app.events.catalogue import iso
from app.events.preconditions import (
    CaseExists,
    CaseFieldsAre,
    HoldIs,
    Precondition,
    PrincipalExists,
)
from app.events.values import event_value
from app.vault import Vault
from custody.ledger import Receipt


class ReasonRequired(Unprocessable):
    """A change that must say why (reopening a closed case) came without a reason."""


def is_member(engine: Engine, case_id: str, principal_id: str) -> bool:
    return exists(
        engine,
        CaseMember,
        col(CaseMember.case_id) == case_id,
        col(CaseMember.principal_id) == principal_id,
    )


def get_case(engine: Engine, case_id: str) -> Case:
    if "\x00" in case_id:
        # No id holds NUL, and PostgreSQL refuses the query itself (a 500, not a 404).
        raise NotFound(f"no case {case_id!r}")
    case = read_one(engine, Case, col(Case.id) == case_id)
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    return case


def readable_case(engine: Engine, case_id: str, who: Principal) -> Case:
    """A case the principal may read: collectors only their own, everyone else all.

    A collector asking for another's case gets 404, not 403, so case ids do not leak.
    """
    case = get_case(engine, case_id)
    if who.role == Role.collector and not is_member(engine, case_id, who.id):
        raise NotFound(f"no case {case_id!r}")
    return case


def writable_case(engine: Engine, case_id: str, who: Principal) -> Case:
    case = readable_case(engine, case_id, who)
    if who.role not in (Role.collector, Role.admin):
        raise Forbidden(f"role {who.role!r} may not add to cases")
    return case


def create_case(vault: Vault, who: Principal, data: CaseCreate) -> tuple[Case, Receipt]:
    """The case number is allocated inside the seal, and the row is the event's projection."""
    owner = data.owner or who.id
    get_principal(vault.engine, owner)
    body = CaseCreatedV2(
        title=data.title,
        description=data.description,
        severity=data.severity.value,
        status="new",
        owner=owner,
        retention_days=data.retention_days or vault.settings.retention_days,
        # without `declared_at` the event's own sealed time is the declaration
        declared_at=iso(data.declared_at),
        personal_data=data.personal_data,
        notification_required=data.notification_required,
        aware_at=iso(data.aware_at),
    )
    receipt = record(
        vault, who, EventType.case_created, body, preconditions=[PrincipalExists(owner)]
    )
    return get_case(vault.engine, sealed_case(receipt)), receipt


def list_cases(
    engine: Engine,
    who: Principal,
    *,
    status: str | None = None,
    severity: str | None = None,
    hold: bool | None = None,
) -> list[Case]:
    with session(engine) as s:
        q = select(Case)
        if who.role == Role.collector:
            q = q.join(CaseMember, col(CaseMember.case_id) == col(Case.id)).where(
                CaseMember.principal_id == who.id
            )
        if status:
            q = q.where(Case.status == status)
        if severity:
            q = q.where(Case.severity == severity)
        if hold is not None:
            q = q.where(Case.legal_hold == hold)
        rows = list(s.exec(q.order_by(col(Case.created_at).desc(), col(Case.id).desc())).all())
        for r in rows:
            s.expunge(r)
        return rows


def _changes(case: Case, values: dict[str, Any]) -> dict[str, Any]:
    """{field: [old, new]} for the values that differ from the row, as event values."""
    changes: dict[str, Any] = {}
    for field, value in values.items():
        old, new = event_value(getattr(case, field)), event_value(value)
        if old != new:
            changes[field] = [old, new]
    return changes


def update_case(
    vault: Vault, who: Principal, case_id: str, data: CaseUpdate
) -> tuple[Case, Receipt | None]:
    case = writable_case(vault.engine, case_id, who)
    changes = _changes(case, data.model_dump(exclude_none=True, exclude={"occurred_at", "reason"}))
    if not changes:
        return case, None
    reopened = changes.get("status", [None, None])[0] == CaseStatus.closed.value
    if reopened and not data.reason:
        raise ReasonRequired(f"{case_id} is closed: reopening it needs a reason")
    if "owner" in changes:
        get_principal(vault.engine, changes["owner"][1])
    return _apply_changes(vault, who, case_id, changes, data.occurred_at, data.reason)


def update_privacy(
    vault: Vault, who: Principal, case_id: str, data: PrivacyUpdate
) -> tuple[Case, Receipt | None]:
    """Personal-data and notification flags: responders flag exposure, legal records notice.

    Recorded as `case.updated` like any other field change, so the timeline, the
    deadline computations and a rebuild from the ledger all see them the same way.
    """
    case = readable_case(vault.engine, case_id, who)
    if who.role == Role.auditor:
        raise Forbidden("auditors read; they do not change cases")
    values = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if v is not None or k in ("aware_at", "notified_at")  # null clears a time only
    }
    changes = _changes(case, values)
    if not changes:
        return case, None
    return _apply_changes(vault, who, case_id, changes)


def _apply_changes(
    vault: Vault,
    who: Principal,
    case_id: str,
    changes: dict[str, Any],
    occurred: datetime | None = None,
    reason: str | None = None,
) -> tuple[Case, Receipt]:
    """Sealed only if every changed field still holds the value the caller read."""
    assumed = CaseFieldsAre(case_id, {k: v[0] for k, v in changes.items()})
    conditions: list[Precondition] = [assumed]
    if "owner" in changes:
        conditions.append(PrincipalExists(changes["owner"][1]))
    told: dict[str, Any] = {}
    if occurred is not None:
        told["occurred_at"] = iso(occurred)
    if reason:
        told["reason"] = reason
    body = CaseUpdatedV3(changes=changes, **told)
    receipt = record(
        vault, who, EventType.case_updated, body, case=case_id, preconditions=conditions
    )
    return get_case(vault.engine, case_id), receipt


def add_member(vault: Vault, who: Principal, case_id: str, principal_id: str) -> Receipt:
    writable_case(vault.engine, case_id, who)
    member = get_principal(vault.engine, principal_id)
    return record(
        vault,
        who,
        EventType.case_member_added,
        MemberAdded(principal=member.id, role=member.role),
        case=case_id,
        preconditions=[CaseExists(case_id), PrincipalExists(member.id)],
    )


def set_hold(
    vault: Vault, who: Principal, case_id: str, on: bool, reason: str
) -> tuple[Case, Receipt]:
    """Legal hold on every artifact of the case, enforced by the store (S3 Object Lock).

    The flag is the hold event's projection, sealed only if the hold is still in the
    state the caller saw (of two racing requests one is sealed, the other gets 409).
    Placing one holds the objects first (holding early is the safe side), then again
    any object that became visible before the seal; an ingest re-reads the flag after
    its own seal, so an upload racing the hold is covered by one side or the other.
    Releasing is sealed first and lifted after, and keeps the hold on objects another
    held case still references: identical bytes are stored once.
    """
    if who.role != Role.legal:  # enforced here too, whatever door the request came in by
        raise Forbidden("only the legal role places or releases a legal hold")
    case = readable_case(vault.engine, case_id, who)
    if case.legal_hold == on:
        raise Conflict(f"legal hold on {case_id} is already {'set' if on else 'released'}")
    keys = _case_object_keys(vault.engine, case_id)
    still_held = set() if on else _held_elsewhere(vault.engine, case_id, keys)
    if on:
        for key in keys:
            vault.store.set_legal_hold(key, True)
    receipt = record(
        vault,
        who,
        EventType.hold_set if on else EventType.hold_released,
        Hold(reason=reason, objects=len(keys), kept_for_other_cases=len(still_held)),
        case=case_id,
        preconditions=[HoldIs(case_id, not on)],
    )
    now = _case_object_keys(vault.engine, case_id)
    if on:
        for key in sorted(set(now) - set(keys)):
            vault.store.set_legal_hold(key, True)
    else:
        still_held = _held_elsewhere(vault.engine, case_id, now)
        for key in now:
            if key not in still_held:
                vault.store.set_legal_hold(key, False)
    return get_case(vault.engine, case_id), receipt


def _case_object_keys(engine: Engine, case_id: str) -> list[str]:
    from app.artifacts.models import Artifact

    with session(engine) as s:
        return sorted(
            set(
                s.exec(
                    select(Artifact.object_key).where(
                        Artifact.case_id == case_id, col(Artifact.ingest_index).is_not(None)
                    )
                ).all()
            )
        )


def _held_elsewhere(engine: Engine, case_id: str, keys: list[str]) -> set[str]:
    from app.artifacts.models import Artifact

    if not keys:
        return set()
    with session(engine) as s:
        return set(
            s.exec(
                select(Artifact.object_key)
                .join(Case, col(Case.id) == col(Artifact.case_id))
                .where(
                    col(Artifact.object_key).in_(keys),
                    Case.legal_hold == True,  # noqa: E712
                    Case.id != case_id,
                )
            ).all()
        )
