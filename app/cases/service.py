"""Cases: creation with a quotable identifier, membership, status changes — each an event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.auth.models import Principal, Role
from app.auth.service import get_principal
from app.cases.models import Case, CaseMember, incident_fields
from app.cases.schemas import CaseCreate, CaseUpdate, PrivacyUpdate
from app.db import session
from app.errors import Conflict, Forbidden, NotFound
from app.events import event_time, record
from app.vault import Vault
from custody.ledger import Receipt


def _next_id(s: Session, year: int) -> str:
    prefix = f"IR-{year}-"
    count = s.exec(select(func.count()).where(col(Case.id).startswith(prefix))).one()
    return f"{prefix}{count + 1:04d}"


def is_member(engine: Engine, case_id: str, principal_id: str) -> bool:
    with session(engine) as s:
        return s.get(CaseMember, (case_id, principal_id)) is not None


def get_case(engine: Engine, case_id: str) -> Case:
    if "\x00" in case_id:
        # No id holds NUL, and PostgreSQL refuses the query itself (a 500, not a 404).
        raise NotFound(f"no case {case_id!r}")
    with session(engine) as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case {case_id!r}")
        s.expunge(case)
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
    now = datetime.now(UTC)
    owner = data.owner or who.id
    get_principal(vault.engine, owner)
    retention = data.retention_days or vault.settings.retention_days
    for _ in range(20):
        with session(vault.engine) as s:
            case = Case(
                id=_next_id(s, now.year),
                title=data.title,
                description=data.description,
                severity=data.severity.value,
                status="new",
                owner=owner,
                created_by=who.id,
                created_at=now,
                updated_at=now,
                legal_hold=False,
                retention_days=retention,
                declared_at=data.declared_at or now,
                personal_data=data.personal_data,
                notification_required=data.notification_required,
                aware_at=data.aware_at,
            )
            s.add(case)
            s.add(CaseMember(case_id=case.id, principal_id=who.id))
            if owner != who.id:
                s.add(CaseMember(case_id=case.id, principal_id=owner))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                continue  # another request took this number; take the next
            s.refresh(case)
            s.expunge(case)
            break
    else:  # pragma: no cover - needs 20 concurrent collisions
        raise RuntimeError("could not allocate a case identifier")
    body: dict[str, Any] = {
        "title": case.title,
        "severity": case.severity,
        "status": case.status,
        "owner": case.owner,
        "retention_days": case.retention_days,
    }
    # Incident context only when given, so a plain case's event keeps its original shape;
    # without `declared_at` the event's own sealed time is the declaration.
    if data.declared_at is not None:
        body["declared_at"] = _event_value(data.declared_at)
    if data.personal_data:
        body["personal_data"] = True
    if data.notification_required:
        body["notification_required"] = True
    if data.aware_at is not None:
        body["aware_at"] = _event_value(data.aware_at)
    try:
        receipt = record(vault, who, "case.created", body, case=case.id)
    except Exception:
        _delete_unrecorded(vault.engine, case.id)
        raise
    with session(vault.engine) as s:
        row = s.get(Case, case.id)
        assert row is not None
        row.created_at = row.updated_at = event_time(receipt)
        # Exactly what a rebuild from the ledger will derive (app/projections.py).
        for field, value in incident_fields(body, row.created_at).items():
            setattr(row, field, value)
        s.commit()
        s.refresh(row)
    return row, receipt


def _delete_unrecorded(engine: Engine, case_id: str) -> None:
    """A case whose creation event failed to seal never existed."""
    with session(engine) as s:
        for m in s.exec(select(CaseMember).where(CaseMember.case_id == case_id)).all():
            s.delete(m)
        case = s.get(Case, case_id)
        if case is not None:
            s.delete(case)
        s.commit()


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


def _event_value(value: Any) -> Any:
    """A field value as the event body holds it: JSON has no datetimes, so ISO 8601 UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return getattr(value, "value", value)


def _changes(case: Case, values: dict[str, Any]) -> dict[str, Any]:
    """{field: [old, new]} for the values that differ from the row, as event values."""
    changes: dict[str, Any] = {}
    for field, value in values.items():
        old, new = _event_value(getattr(case, field)), _event_value(value)
        if old != new:
            changes[field] = [old, new]
    return changes


def update_case(
    vault: Vault, who: Principal, case_id: str, data: CaseUpdate
) -> tuple[Case, Receipt | None]:
    case = writable_case(vault.engine, case_id, who)
    changes = _changes(case, data.model_dump(exclude_none=True))
    if not changes:
        return case, None
    if "owner" in changes:
        get_principal(vault.engine, changes["owner"][1])
    return _apply_changes(vault, who, case_id, changes)


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
    vault: Vault, who: Principal, case_id: str, changes: dict[str, Any]
) -> tuple[Case, Receipt]:
    receipt = record(vault, who, "case.updated", {"changes": changes}, case=case_id)
    with session(vault.engine) as s:
        row = s.get(Case, case_id)
        assert row is not None
        for field, (_, new) in changes.items():
            setattr(row, field, new)  # ISO strings for times: the column parses them
        row.updated_at = event_time(receipt)
        if "owner" in changes and s.get(CaseMember, (case_id, changes["owner"][1])) is None:
            s.add(CaseMember(case_id=case_id, principal_id=changes["owner"][1]))
        s.commit()
        s.refresh(row)
        s.expunge(row)
    return row, receipt


def add_member(vault: Vault, who: Principal, case_id: str, principal_id: str) -> Receipt:
    writable_case(vault.engine, case_id, who)
    member = get_principal(vault.engine, principal_id)
    receipt = record(
        vault, who, "case.member_added", {"principal": member.id, "role": member.role}, case=case_id
    )
    with session(vault.engine) as s:
        if s.get(CaseMember, (case_id, member.id)) is None:
            s.add(CaseMember(case_id=case_id, principal_id=member.id))
            s.commit()
    return receipt


def set_hold(
    vault: Vault, who: Principal, case_id: str, on: bool, reason: str
) -> tuple[Case, Receipt]:
    """Legal hold on every artifact of the case, enforced by the store (S3 Object Lock).

    Placing a hold raises the case's flag *before* listing its objects, and an ingest
    re-reads the flag *after* its artifact becomes visible, so an upload racing the
    hold is always covered by one side or the other. Releasing keeps the hold on
    objects another held case still references: identical bytes are stored once, and
    one case's release must not expose another's evidence.
    """
    if who.role != Role.legal:  # enforced here too, whatever door the request came in by
        raise Forbidden("only the legal role places or releases a legal hold")
    case = readable_case(vault.engine, case_id, who)
    if case.legal_hold == on:
        raise Conflict(f"legal hold on {case_id} is already {'set' if on else 'released'}")
    if on:
        _set_hold_flag(vault.engine, case_id, True)
    try:
        keys = _case_object_keys(vault.engine, case_id)
        still_held = set() if on else _held_elsewhere(vault.engine, case_id, keys)
        for key in keys:
            if key not in still_held:
                vault.store.set_legal_hold(key, on)
        receipt = record(
            vault,
            who,
            "hold.set" if on else "hold.released",
            {"reason": reason, "objects": len(keys), "kept_for_other_cases": len(still_held)},
            case=case_id,
        )
    except Exception:
        if on:  # the objects may stay held (the safe side); the case says what the ledger says
            _set_hold_flag(vault.engine, case_id, False)
        raise
    return _set_hold_flag(vault.engine, case_id, on, event_time(receipt)), receipt


def _set_hold_flag(engine: Engine, case_id: str, on: bool, at: datetime | None = None) -> Case:
    with session(engine) as s:
        row = s.get(Case, case_id)
        assert row is not None
        row.legal_hold = on
        if at is not None:
            row.updated_at = at
        s.commit()
        s.refresh(row)
        return row


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
