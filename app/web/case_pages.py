"""The case list, and the case page with everything it shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.artifacts import service as artifacts
from app.artifacts.models import Artifact
from app.assets import service as asset_service
from app.assets.models import AssetKind, Criticality
from app.auth.models import Principal, Role
from app.cases import service as cases
from app.cases.models import CaseStatus
from app.comms.templates import Kind
from app.deps import VaultDep
from app.errors import BadRequest
from app.incidents import reviews as review_service
from app.incidents import service as incidents
from app.incidents import timeline
from app.incidents.metrics import SEVERITIES, Deadline, case_deadlines
from app.incidents.policy import IncidentPolicy
from app.playbooks import service as playbooks
from app.playbooks.definitions import ACTION_LABELS
from app.playbooks.views import get_playbooks
from app.vault import Vault
from app.verification.service import Checklist, verify_item
from app.web.deps import Policy, Who
from app.web.flash import flash
from app.web.paging import PageNo, date_range, paginate
from app.web.render import WebRoute, as_utc, page
from verify.event_types import EventType

router = APIRouter(route_class=WebRoute, include_in_schema=False)
#: events shown on the case page; the timeline page has them all
CASE_PAGE_EVENTS = 25
#: rows per page of the case list
CASES_PER_PAGE = 50


def deadline_map(deadlines: list[Deadline]) -> dict[str, Deadline]:
    return {d.kind: d for d in deadlines}


@router.get("/cases", response_class=HTMLResponse)
def case_list(
    request: Request,
    vault: VaultDep,
    who: Who,
    policy: Policy,
    severity: str = "",
    status: str = "",
    hold: str = "",
    since: Annotated[str, Query(alias="from", max_length=10)] = "",
    until: Annotated[str, Query(alias="to", max_length=10)] = "",
    page_no: PageNo = 1,
    done: str | None = None,
) -> HTMLResponse:
    declared = date_range(since, until)
    if severity and severity not in SEVERITIES:
        raise BadRequest(f"unknown severity {severity!r}")
    if status and status not in {s.value for s in CaseStatus}:
        raise BadRequest(f"unknown status {status!r}")
    if hold not in ("", "yes", "no"):
        raise BadRequest("hold is 'yes', 'no' or empty")
    rows = cases.list_cases(
        vault.engine,
        who,
        severity=severity or None,
        status=status or None,
        hold={"yes": True, "no": False}.get(hold),
    )
    rows = [c for c in rows if declared.holds(as_utc(c.declared_at or c.created_at))]
    params = [(k, v) for k, v in (("severity", severity), ("status", status), ("hold", hold)) if v]
    paged = paginate(rows, page_no, CASES_PER_PAGE, params + declared.params())
    facts = {f.case_id: f for f in incidents.visible_facts(vault.engine, who)}
    now = incidents.ledger_clock(vault)()
    listed = []
    for c in paged.items:
        f = facts.get(c.id)
        listed.append(
            {
                "case": c,
                "deadlines": deadline_map(case_deadlines(f, policy, now)) if f else {},
            }
        )
    return page(
        request,
        "cases.html",
        {
            "rows": listed,
            "paged": paged,
            "filters": {
                "severity": severity,
                "status": status,
                "hold": hold,
                "from": since,
                "to": until,
            },
            "severities": SEVERITIES,
            "statuses": [s.value for s in CaseStatus],
            "flash": flash(done),
        },
    )


@dataclass(frozen=True)
class ArtifactRow:
    artifact: Artifact
    checks: Checklist


def _route_exists(request: Request, path: str) -> bool:
    """True when another domain registered the endpoint (reports, bundles).

    Read from the OpenAPI document (built once per app): included routers are not
    necessarily flattened into `app.routes`.
    """
    norm = re.sub(r"\{[^}]*\}", "{}", path)
    paths = request.app.openapi().get("paths", {})
    return any(re.sub(r"\{[^}]*\}", "{}", p) == norm for p in paths)


def downloads(request: Request, who: Principal, case_id: str) -> list[dict[str, Any]]:
    """Report and bundle links. Those endpoints serve legal, auditors and admins."""
    if who.role not in (Role.legal, Role.auditor, Role.admin):
        return []
    out = []
    for path, label, hint in (
        ("/v1/cases/{}/report.pdf", "Custody report (PDF)", "signed, for court"),
        ("/v1/cases/{}/report.json", "Custody report (JSON)", "machine-readable"),
        ("/v1/cases/{}/bundle", "Evidence bundle", "for offline `locard verify`"),
    ):
        out.append(
            {
                "href": path.format(case_id),
                "label": label,
                "hint": hint,
                "available": _route_exists(request, path),
            }
        )
    return out


def _case_context(
    request: Request, vault: Vault, who: Principal, case_id: str, policy: IncidentPolicy
) -> dict[str, Any]:
    view = incidents.incident(vault, who, case_id, policy)
    case = view.case
    arts = [
        ArtifactRow(a, verify_item(vault, a))
        for a in artifacts.list_artifacts(vault.engine, case.id, who)
    ]
    entries = timeline.build(
        incidents.case_events(vault.engine, case.id), timeline.TimelineFilter()
    )
    containment = [e for e in entries if e.type == EventType.containment]
    communications = [e for e in entries if e.type == EventType.communication_issued]
    today = view.now.date()
    reviews = review_service.list_reviews(vault, who, case.id)
    responder = who.role == Role.admin or who.role == Role.collector
    checklist = playbooks.checklist(vault.engine, who, case.id)
    return {
        "closable": {
            (r.id, i.id)
            for r in reviews
            for i in r.items.values()
            # as reviews.update_item decides: the case's responders, or the item's owner
            if i.state not in review_service.CLOSED_STATES
            and who.role != Role.auditor
            and (responder or i.owner == who.id)
        },
        "checklist": checklist,
        "recordable": {
            s.step_id
            for s in checklist.steps
            if s.state == "pending" and playbooks.may_record(vault.engine, who, case.id, s)
        },
        "scenarios": get_playbooks(request),
        "action_labels": ACTION_LABELS,
        "assets": asset_service.list_assets(vault, who, case.id),
        "asset_kinds": [k.value for k in AssetKind],
        "criticalities": [c.value for c in Criticality],
        "case": case,
        "view": view,
        "facts": view.facts,
        "deadlines": deadline_map(view.deadlines),
        "artifacts": arts,
        "containment": containment,
        "communications": communications,
        "comm_kinds": [k.value for k in Kind],
        "recent": entries[-CASE_PAGE_EVENTS:],
        "total_events": len(entries),
        "reviews": reviews,
        "today": today,
        "downloads": downloads(request, who, case.id),
        # Holds are counsel's call: admins run the vault but neither place nor release them.
        "can_hold": who.role == Role.legal,
        "can_update": responder,
        "can_note": who.role != Role.auditor,
        "can_privacy": who.role != Role.auditor,
        "statuses": [s.value for s in CaseStatus],
        "severities": SEVERITIES,
        "categories": timeline.CATEGORY_NAMES,
        "policy": policy,
    }


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    case_id: str,
    vault: VaultDep,
    who: Who,
    policy: Policy,
    done: str | None = None,
) -> HTMLResponse:
    ctx = _case_context(request, vault, who, case_id, policy)
    ctx["flash"] = flash(done)
    return page(request, "case.html", ctx)
