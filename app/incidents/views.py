"""Incident API: SLAs and deadlines, privacy flags, timeline (JSON/CSV), notes, reviews, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.artifacts.schemas import ArtifactOut
from app.auth.models import Principal
from app.cases import service as cases
from app.cases.schemas import CaseOut, PrivacyUpdate
from app.deps import Reader, VaultDep
from app.edge.routes import GuardedRoute
from app.errors import BadRequest
from app.incidents import action_items, leadership, reviews, service, timeline
from app.incidents.leadership_pdf import render_leadership_pdf
from app.incidents.policy import IncidentPolicy
from app.sealed_response import sealed
from app.text import MultiLine, SingleLine
from app.vault import Vault

router = APIRouter(prefix="/v1", tags=["incidents"], route_class=GuardedRoute)

#: the longest metrics period one request may ask for
MAX_PERIOD = timedelta(days=3660)
DEFAULT_PERIOD = timedelta(days=30)


def get_policy(request: Request) -> IncidentPolicy:
    """Read once per application from LOCARD_SLA / LOCARD_NOTIFICATION_HOURS."""
    policy: IncidentPolicy | None = getattr(request.app.state, "incident_policy", None)
    if policy is None:
        policy = IncidentPolicy()
        request.app.state.incident_policy = policy
    return policy


class NoteKind(StrEnum):
    note = "note"
    decision = "decision"


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: NoteKind = NoteKind.note
    text: MultiLine = Field(min_length=1, max_length=20_000)

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is blank")
        return v


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise BadRequest(f"{name} must carry a timezone (e.g. Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00+05:00 lies before year 1 in UTC
        raise BadRequest(f"{name} is outside the representable range") from None


def timeline_filter(
    category: list[str] | None = None,
    type: list[str] | None = None,
    actor: list[str] | None = None,
    item: str | None = None,
    q: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> timeline.TimelineFilter:
    """Empty values (as an HTML form sends for "any") mean no filter on that field."""
    cats = frozenset(c for c in (category or []) if c)
    unknown = cats - set(timeline.CATEGORY_NAMES)
    if unknown:
        raise BadRequest(
            f"unknown category {sorted(unknown)}; one of {list(timeline.CATEGORY_NAMES)}"
        )
    return timeline.TimelineFilter(
        categories=cats,
        types=frozenset(t for t in (type or []) if t),
        actors=frozenset(a for a in (actor or []) if a),
        item=item or None,
        query=q.strip(),
        since=_aware(since, "since"),
        until=_aware(until, "until"),
    )


Multi = Annotated[list[str] | None, Query(max_length=50)]
Text = Annotated[str, Query(max_length=500)]


@router.get("/cases/{case_id}/incident")
def read_incident(case_id: str, request: Request, vault: VaultDep, who: Reader) -> dict[str, Any]:
    """Derived times, SLA and notification deadlines with their state, evaluated now."""
    view = service.incident(vault, who, case_id, get_policy(request))
    return view.to_json()


@router.patch("/cases/{case_id}/privacy")
async def update_privacy(
    case_id: str, data: PrivacyUpdate, vault: VaultDep, who: Reader
) -> dict[str, Any]:
    """Personal-data exposure and notification duty (responders, legal, admin)."""
    case, receipt = await run_in_threadpool(cases.update_privacy, vault, who, case_id, data)
    return {
        "case": CaseOut.model_validate(case, from_attributes=True),
        "receipt": receipt.to_json() if receipt else None,
    }


@router.get("/cases/{case_id}/timeline")
def read_timeline(
    case_id: str,
    vault: VaultDep,
    who: Reader,
    category: Multi = None,
    type: Multi = None,
    actor: Multi = None,
    item: Annotated[str | None, Query(max_length=128)] = None,
    q: Text = "",
    since: datetime | None = None,
    until: datetime | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> dict[str, Any]:
    flt = timeline_filter(category, type, actor, item, q, since, until)
    entries = service.case_timeline(vault.engine, who, case_id, flt)
    return {
        "case": case_id,
        "total": len(entries),
        "offset": offset,
        "entries": [e.to_json() for e in entries[offset : offset + limit]],
    }


@router.get("/cases/{case_id}/timeline.csv")
def export_timeline(
    case_id: str,
    vault: VaultDep,
    who: Reader,
    category: Multi = None,
    type: Multi = None,
    actor: Multi = None,
    item: Annotated[str | None, Query(max_length=128)] = None,
    q: Text = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    flt = timeline_filter(category, type, actor, item, q, since, until)
    entries = service.case_timeline(vault.engine, who, case_id, flt)
    name = quote(f"timeline-{case_id}.csv", safe="")
    return StreamingResponse(
        timeline.to_csv_rows(entries),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


@router.post("/cases/{case_id}/notes", status_code=201)
async def add_note(case_id: str, data: NoteIn, vault: VaultDep, who: Reader) -> JSONResponse:
    receipt = await run_in_threadpool(
        service.add_note, vault, who, case_id, data.kind.value, data.text
    )
    return sealed(receipt, status_code=201)


@router.post("/cases/{case_id}/reviews", status_code=201)
async def record_review(
    case_id: str, data: reviews.ReviewIn, vault: VaultDep, who: Reader
) -> dict[str, Any]:
    """Store a lessons-learned record as evidence in the case (collectors on it, admin)."""
    review, art, receipt = await run_in_threadpool(reviews.record_review, vault, who, case_id, data)
    return {
        "review": review.to_json(),
        "artifact": ArtifactOut.model_validate(art),
        "receipt": receipt.to_json(),
    }


@router.get("/cases/{case_id}/reviews")
def list_reviews(case_id: str, vault: VaultDep, who: Reader) -> list[dict[str, Any]]:
    today = service.ledger_clock(vault)().date()
    return [r.to_json(today) for r in reviews.list_reviews(vault, who, case_id)]


@router.patch("/cases/{case_id}/reviews/{review_id}/items/{item_id}")
async def update_action_item(
    case_id: str,
    review_id: str,
    item_id: str,
    data: reviews.ActionItemUpdate,
    vault: VaultDep,
    who: Reader,
) -> dict[str, Any]:
    review, receipt = await run_in_threadpool(
        reviews.update_item, vault, who, case_id, review_id, item_id, data
    )
    return {"review": review.to_json(), "receipt": receipt.to_json() if receipt else None}


@router.get("/action-items")
def list_action_items(
    vault: VaultDep,
    who: Reader,
    owner: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    everyone: bool = False,
    overdue: bool = False,
) -> list[dict[str, Any]]:
    """Action items of the cases the caller may read: its own by default, another
    principal's with `owner`, all with `everyone=true`; overdue ones first."""
    today = service.ledger_clock(vault)().date()
    who_owns = None if everyone else (owner or who.id)
    rows = action_items.owned_items(vault, who, who_owns, today, overdue_only=overdue)
    return [r.to_json(today) for r in rows]


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: when the malicious activity began, as far as is known
    first_activity_at: datetime | None = None
    #: when it was detected (omitted: the declaration counts as detection)
    detected_at: datetime | None = None
    root_cause: Annotated[SingleLine | None, Field(max_length=500)] = None

    @field_validator("first_activity_at", "detected_at")
    @classmethod
    def _zone(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("times must carry a timezone (e.g. Z)")
        try:
            return v.astimezone(UTC) if v is not None else None
        except OverflowError:
            raise ValueError("outside the representable range") from None

    @field_validator("root_cause")
    @classmethod
    def _blank(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


@router.post("/cases/{case_id}/assessment", status_code=201)
async def assess(case_id: str, data: AssessmentIn, vault: VaultDep, who: Reader) -> dict[str, Any]:
    """First malicious activity, detection and root cause (for MTTD and repeat causes)."""
    receipt = await run_in_threadpool(
        service.assess,
        vault,
        who,
        case_id,
        data.first_activity_at,
        data.detected_at,
        data.root_cause,
    )
    return {"receipt": receipt.to_json()}


def metrics_period(
    now: datetime, since: datetime | None, until: datetime | None, days: int | None
) -> tuple[datetime, datetime]:
    end = _aware(until, "until") or now
    try:
        start = _aware(since, "since") or end - (timedelta(days=days) if days else DEFAULT_PERIOD)
    except OverflowError:
        raise BadRequest("the period starts before the representable range") from None
    if end <= start:
        raise BadRequest("until must be after since")
    if end - start > MAX_PERIOD:
        raise BadRequest(f"the period may span at most {MAX_PERIOD.days} days")
    return start, end


@dataclass
class PeriodQuery:
    """The query of every metrics route: a period, or the last `days` (default 30)."""

    since: datetime | None = None
    until: datetime | None = None
    days: Annotated[int | None, Query(ge=1, le=3660)] = None


Period = Annotated[PeriodQuery, Depends()]


@router.get("/metrics")
def read_metrics(
    request: Request,
    vault: VaultDep,
    who: Reader,
    period: Period,
) -> dict[str, Any]:
    """MTTA/MTTC per severity for incidents declared in the period (default: the last 30
    days), and every SLA and notification deadline overdue now, from ledger events."""
    now = service.ledger_clock(vault)()
    start, end = metrics_period(now, period.since, period.until, period.days)
    return service.metrics(vault, who, get_policy(request), start, end).to_json()


def leadership_metrics(
    request: Request, vault: Vault, who: Principal, period: PeriodQuery
) -> leadership.Leadership:
    now = service.ledger_clock(vault)()
    start, end = metrics_period(now, period.since, period.until, period.days)
    policy = get_policy(request)
    facts = service.visible_facts(vault.engine, who, policy.contained_from)
    overdue = action_items.owned_items(vault, who, None, now.date(), overdue_only=True)
    return leadership.leadership(facts, overdue, policy, since=start, until=end, now=now)


@router.get("/metrics/leadership")
def read_leadership(
    request: Request,
    vault: VaultDep,
    who: Reader,
    period: Period,
) -> dict[str, Any]:
    """MTTD and MTTR per severity and month for incidents declared in the period, and the
    lagging indicators, over the cases the caller may read."""
    return leadership_metrics(request, vault, who, period).to_json()


@router.get("/metrics/leadership.csv")
def export_leadership(
    request: Request,
    vault: VaultDep,
    who: Reader,
    period: Period,
) -> StreamingResponse:
    m = leadership_metrics(request, vault, who, period)
    return StreamingResponse(
        leadership.to_csv_rows(m, m.now.date()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=leadership-metrics.csv"},
    )


@router.get("/metrics/leadership.pdf")
def export_leadership_pdf(
    request: Request,
    vault: VaultDep,
    who: Reader,
    period: Period,
) -> Response:
    m = leadership_metrics(request, vault, who, period)
    return Response(
        render_leadership_pdf(m),
        media_type="application/pdf",
        headers={"Content-Disposition": "attachment; filename=leadership-metrics.pdf"},
    )
