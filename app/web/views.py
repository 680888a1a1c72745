"""Server-rendered pages over the same services as the API (no separate front end).

Reads go through the services with the signed-in principal, so a page never shows
what the API would refuse. Writes are HTML forms (POST, CSRF-checked) that redirect
back with a fixed status message; evidence downloads go straight to the API's
streaming endpoint with the required reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from app.artifacts import service as artifacts
from app.artifacts.models import Artifact
from app.assets import service as asset_service
from app.assets.models import AssetKind, Criticality
from app.auth.models import Principal, Role
from app.auth.service import authenticate
from app.auth.web_sessions import end_session, open_session
from app.cases import service as cases
from app.cases.models import CaseStatus
from app.cases.schemas import CaseUpdate, HoldIn, PrivacyUpdate
from app.comms.templates import Kind
from app.deps import SESSION_COOKIE, VaultDep, current_principal
from app.errors import BadRequest, Forbidden, NotFound, Unauthorized
from app.events import Names
from app.incidents import reviews as review_service
from app.incidents import service as incidents
from app.incidents import timeline
from app.incidents.metrics import SEVERITIES, CaseFacts, Deadline, case_deadlines
from app.incidents.policy import IncidentPolicy
from app.incidents.views import (
    AssessmentIn,
    NoteIn,
    NoteKind,
    PeriodQuery,
    get_policy,
    leadership_metrics,
    metrics_period,
    timeline_filter,
)
from app.playbooks import service as playbooks
from app.playbooks.definitions import ACTION_LABELS
from app.playbooks.views import get_playbooks
from app.vault import Vault
from app.verification.schemas import ReasonIn
from app.verification.service import (
    REHASH_CHECK,
    VERIFY_REASON,
    Checklist,
    verify_artifact,
    verify_item,
    verify_stored,
)
from app.web import charts
from app.web.action_item_pages import DONE as ITEM_DONE
from app.web.asset_pages import DONE as ASSET_DONE
from app.web.category_pages import DONE as CATEGORY_DONE
from app.web.comms_pages import DONE as COMMS_DONE
from app.web.forms import back, field, form_time
from app.web.paging import ROWS_PER_PAGE, PageNo, date_range, paginate
from app.web.playbook_pages import DONE as PLAYBOOK_DONE
from app.web.render import HERE, WebRoute, as_utc, page
from app.web.session import check_form, clear_session, safe_next, same_origin, set_session
from custody.ledger import UnknownEntry, timestamp_json
from verify.errors import VerificationError
from verify.event_types import EventType
from verify.events import chain_key, decode_event
from verify.merkle import verify_consistency

router = APIRouter(route_class=WebRoute, include_in_schema=False)
STATIC = HERE / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9-]+\.(css|js|svg)$")
#: events shown on the case page; the timeline page has them all
CASE_PAGE_EVENTS = 25
#: rows per page of the case list and the timeline
CASES_PER_PAGE = 50
EVENTS_PER_PAGE = 100

Who = Annotated[Principal, Depends(current_principal)]
Policy = Annotated[IncidentPolicy, Depends(get_policy)]

#: messages after a form, by code: never echo text from the URL into the page
DONE = {
    "hold_set": "Legal hold placed. Every artifact of the case is now under legal hold.",
    "hold_released": "Legal hold released.",
    "updated": "Case updated.",
    "unchanged": "Nothing changed.",
    "privacy": "Legal and privacy flags updated.",
    "note": "Note recorded in the ledger.",
    "decision": "Decision recorded in the ledger.",
    "signed_out": "You are signed out.",
    "assessed": "Detection and root cause recorded in the ledger.",
    **PLAYBOOK_DONE,
    **ITEM_DONE,
    **ASSET_DONE,
    **COMMS_DONE,
    **CATEGORY_DONE,
}


def need(who: Principal, *roles: Role, what: str) -> None:
    if who.role not in {r.value for r in roles}:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"{what} is for the {allowed} role; you are signed in as {who.role}")


def _flash(done: str | None) -> str | None:
    return DONE.get(done or "")


# -- sign-in -----------------------------------------------------------------------


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/cases", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    done: str | None = None,
) -> HTMLResponse:
    return page(request, "signin.html", {"next": safe_next(next), "flash": _flash(done)})


@router.post("/signin")
async def signin(request: Request, vault: VaultDep) -> Response:
    form = await request.form()
    # No session yet, so no CSRF token: a forged sign-in form is stopped by the origin check.
    same_origin(request)
    token = field(form, "token")
    target = safe_next(field(form, "next"))
    if not token:
        return page(
            request,
            "signin.html",
            {"next": target, "error": "Enter your API token."},
            status_code=400,
        )
    try:
        who = await run_in_threadpool(authenticate, vault.engine, token)
    except Unauthorized:
        return page(
            request,
            "signin.html",
            {"next": target, "error": "That token was not accepted."},
            status_code=401,
        )
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await run_in_threadpool(end_session, vault.engine, previous)
    # A fresh id on every sign-in: a session id planted before it is never promoted.
    session_id = await run_in_threadpool(open_session, vault.engine, who)
    response = RedirectResponse(target, status_code=303)
    set_session(request, response, session_id)
    request.state.principal = who
    return response


@router.post("/signout")
async def signout(request: Request, vault: VaultDep) -> Response:
    form = await request.form()
    check_form(request, form)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await run_in_threadpool(end_session, vault.engine, session_id)
    response = RedirectResponse("/signin?done=signed_out", status_code=303)
    clear_session(request, response)
    return response


@router.get("/favicon.ico")
def favicon() -> Response:
    return FileResponse(
        STATIC / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/static/{name}")
def static(name: str) -> Response:
    if not _STATIC_NAME.match(name) or not (STATIC / name).is_file():
        raise NotFound(f"no static file {name!r}")
    return FileResponse(STATIC / name, headers={"Cache-Control": "public, max-age=300"})


# -- cases -------------------------------------------------------------------------


def _deadline_map(deadlines: list[Deadline]) -> dict[str, Deadline]:
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
                "deadlines": _deadline_map(case_deadlines(f, policy, now)) if f else {},
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
            "flash": _flash(done),
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
        "deadlines": _deadline_map(view.deadlines),
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
    ctx["flash"] = _flash(done)
    return page(request, "case.html", ctx)


@router.get("/cases/{case_id}/timeline", response_class=HTMLResponse)
def timeline_page(
    request: Request,
    case_id: str,
    vault: VaultDep,
    who: Who,
    category: Annotated[list[str] | None, Query(max_length=20)] = None,
    actor: Annotated[str, Query(max_length=128)] = "",
    q: Annotated[str, Query(max_length=500)] = "",
    since: Annotated[str, Query(alias="from", max_length=10)] = "",
    until: Annotated[str, Query(alias="to", max_length=10)] = "",
    page_no: PageNo = 1,
) -> HTMLResponse:
    case = cases.readable_case(vault.engine, case_id, who)
    days = date_range(since, until)
    flt = timeline_filter(
        category, None, [actor] if actor else None, None, q, days.since, days.until
    )
    all_entries = timeline.build(
        incidents.case_events(vault.engine, case.id), timeline.TimelineFilter()
    )
    entries = [e for e in all_entries if flt.matches(e)]
    params: list[tuple[str, str]] = [("category", c) for c in sorted(flt.categories)]
    if actor:
        params.append(("actor", actor))
    if q:
        params.append(("q", q))
    params += days.params()
    api = [(k, v) for k, v in params if k not in ("from", "to")]
    if days.since:
        api.append(("since", days.since.isoformat()))
    if days.until:
        api.append(("until", days.until.isoformat()))
    return page(
        request,
        "timeline.html",
        {
            "case": case,
            "paged": paginate(entries, page_no, EVENTS_PER_PAGE, params),
            "matched": len(entries),
            "range": {"from": since, "to": until},
            "total": len(all_entries),
            "categories": timeline.CATEGORY_NAMES,
            "actors": sorted({e.actor for e in all_entries}),
            "selected": flt.categories,
            "actor": actor,
            "q": q,
            "csv_href": f"/v1/cases/{case.id}/timeline.csv" + (f"?{urlencode(api)}" if api else ""),
        },
    )


@router.post("/cases/{case_id}/status")
async def update_status(case_id: str, request: Request, vault: VaultDep, who: Who) -> Response:
    form = await request.form()
    check_form(request, form)
    need(who, Role.collector, Role.admin, what="Changing a case")
    values: dict[str, Any] = {}
    if field(form, "status"):
        values["status"] = field(form, "status")
    if field(form, "severity"):
        values["severity"] = field(form, "severity")
    if field(form, "reason"):
        values["reason"] = field(form, "reason")
    data = CaseUpdate.model_validate(values)
    _, receipt = await run_in_threadpool(cases.update_case, vault, who, case_id, data)
    return back(f"/cases/{case_id}", "updated" if receipt else "unchanged")


@router.post("/cases/{case_id}/privacy")
async def update_privacy(case_id: str, request: Request, vault: VaultDep, who: Who) -> Response:
    form = await request.form()
    check_form(request, form)
    values: dict[str, Any] = {
        "personal_data": form.get("personal_data") == "on",
        "notification_required": form.get("notification_required") == "on",
    }
    aware = form_time(form, "aware_at")
    if aware is not None:
        values["aware_at"] = aware
    notified = form_time(form, "notified_at")
    if notified is not None:
        values["notified_at"] = notified
    elif form.get("notified_now") == "on":
        values["notified_at"] = incidents.ledger_clock(vault)()
    data = PrivacyUpdate.model_validate(values)
    _, receipt = await run_in_threadpool(cases.update_privacy, vault, who, case_id, data)
    return back(f"/cases/{case_id}", "privacy" if receipt else "unchanged")


@router.post("/cases/{case_id}/assessment")
async def assess(case_id: str, request: Request, vault: VaultDep, who: Who) -> Response:
    form = await request.form()
    check_form(request, form)
    data = AssessmentIn.model_validate(
        {
            "first_activity_at": form_time(form, "first_activity_at"),
            "detected_at": form_time(form, "detected_at"),
            "root_cause": field(form, "root_cause") or None,
        }
    )
    await run_in_threadpool(
        incidents.assess,
        vault,
        who,
        case_id,
        data.first_activity_at,
        data.detected_at,
        data.root_cause,
    )
    return back(f"/cases/{case_id}", "assessed")


@router.post("/cases/{case_id}/notes")
async def add_note(case_id: str, request: Request, vault: VaultDep, who: Who) -> Response:
    form = await request.form()
    check_form(request, form)
    data = NoteIn.model_validate(
        {"kind": field(form, "kind") or NoteKind.note.value, "text": field(form, "text")}
    )
    await run_in_threadpool(incidents.add_note, vault, who, case_id, data.kind.value, data.text)
    return back(f"/cases/{case_id}", data.kind.value)


# -- legal hold (legal role) ---------------------------------------------------------


@router.get("/cases/{case_id}/hold", response_class=HTMLResponse)
def hold_page(request: Request, case_id: str, vault: VaultDep, who: Who) -> HTMLResponse:
    need(who, Role.legal, what="Legal hold")
    case = cases.readable_case(vault.engine, case_id, who)
    arts = artifacts.list_artifacts(vault.engine, case.id, who)
    holds = [
        e
        for e in timeline.build(
            incidents.case_events(vault.engine, case.id),
            timeline.TimelineFilter(categories=frozenset({"legal"})),
        )
    ]
    return page(request, "hold.html", {"case": case, "artifacts": arts, "history": holds})


@router.post("/cases/{case_id}/hold")
async def set_hold(case_id: str, request: Request, vault: VaultDep, who: Who) -> Response:
    form = await request.form()
    check_form(request, form)
    need(who, Role.legal, what="Placing or releasing a legal hold")
    action = field(form, "action")
    if action not in ("place", "release"):
        raise BadRequest("choose to place or release the hold")
    data = HoldIn.model_validate({"on": action == "place", "reason": field(form, "reason")})
    target = safe_next(field(form, "next"), f"/cases/{case_id}")
    if data.on and field(form, "confirm") != "yes":
        # A hold binds every artifact of the case in the store: say so, and ask once more.
        case = cases.readable_case(vault.engine, case_id, who)
        arts = artifacts.list_artifacts(vault.engine, case.id, who)
        return page(
            request,
            "hold_confirm.html",
            {"case": case, "artifacts": arts, "reason": data.reason, "next": target},
        )
    await run_in_threadpool(cases.set_hold, vault, who, case_id, data.on, data.reason)
    return back(target, "hold_set" if data.on else "hold_released")


# -- artifacts ---------------------------------------------------------------------


#: after a re-hash, by outcome (the page then shows the leaf of that read)
REHASHED = {
    "rehashed": "The stored bytes were re-read and re-hashed: SHA-256 {sha256}, SHA-1 and MD5 "
    "match the sealed ingest event.",
    "rehash_failed": "The stored bytes were re-read and re-hashed: they DO NOT match the sealed "
    "ingest event (SHA-256 {sha256}). Report this to the vault's operators.",
}


def _artifact_page(
    request: Request,
    vault: Vault,
    who: Principal,
    art: Artifact,
    *,
    done: str | None = None,
    leaf: int | None = None,
) -> HTMLResponse:
    case = cases.readable_case(vault.engine, art.case_id, who)
    chain = vault.ledger.chain(chain_key(art.case_id, art.id))
    checks = verify_artifact(vault, art, chain)
    decoded = [(e.index, decode_event(e.canonical)) for e in chain]
    names = Names.of(ev for _, ev in decoded)
    events = [timeline.entry(i, ev, names) for i, ev in decoded]
    flash = REHASHED.get(done or "", "").format(sha256=art.sha256) or None
    # Only a read this chain holds is named: the number comes from the URL.
    if flash and any(e.index == leaf and e.type == EventType.access for e in events):
        flash += f" That read is leaf #{leaf} of the custody chain."
    return page(
        request,
        "artifact.html",
        {"artifact": art, "case": case, "chain": events, "checks": checks, "flash": flash},
    )


@router.get("/artifacts/{artifact_id}", response_class=HTMLResponse)
def artifact_page(
    request: Request,
    artifact_id: str,
    vault: VaultDep,
    who: Who,
    done: str | None = None,
    leaf: Annotated[int | None, Query(ge=0, le=1 << 62)] = None,
) -> HTMLResponse:
    art = artifacts.get_artifact(vault.engine, artifact_id, who)
    return _artifact_page(request, vault, who, art, done=done, leaf=leaf)


@router.post("/artifacts/{artifact_id}/verify")
async def rehash_artifact(
    artifact_id: str, request: Request, vault: VaultDep, who: Who
) -> Response:
    """Re-read and re-hash the stored bytes now (a sealed access event), then redirect to
    the page (a reload must not read the evidence again)."""
    form = await request.form()
    check_form(request, form)
    reason = ReasonIn.model_validate({"reason": field(form, "reason") or VERIFY_REASON}).reason
    art, checks, receipt = await run_in_threadpool(verify_stored, vault, who, artifact_id, reason)
    read = [r for r in checks.rows if r.name == REHASH_CHECK]
    done = "rehashed" if read and read[0].state == "pass" else "rehash_failed"
    return back(f"/artifacts/{quote(art.id)}?leaf={receipt.event.index}", done)


# -- ledger (auditor, legal, admin) ---------------------------------------------------


def _need_proofs(who: Principal) -> None:
    need(who, Role.auditor, Role.legal, Role.admin, what="The ledger page")


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, vault: VaultDep, who: Who) -> HTMLResponse:
    _need_proofs(who)
    try:
        cp = vault.ledger.checkpoint()
    except UnknownEntry:
        return page(request, "ledger.html", {"checkpoint": None, "origin": vault.ledger.origin})
    return page(
        request,
        "ledger.html",
        {
            "checkpoint": cp,
            "root": cp.root.hex(),
            "note": cp.note.decode(),
            "timestamps": [timestamp_json(t) for t in cp.timestamps],
            "origin": vault.ledger.origin,
            "builtin_name": vault.keyring.tsa.name if vault.settings.builtin_tsa else None,
        },
    )


@router.get("/ledger/consistency")
def ledger_consistency(
    vault: VaultDep,
    who: Who,
    size: Annotated[int, Query(ge=0, le=1 << 62)],
    root: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> JSONResponse:
    """Server-side check for browsers without WebCrypto (pages served over plain HTTP
    to another host): is the latest tree an extension of (size, root)?"""
    _need_proofs(who)
    cp = vault.ledger.checkpoint()
    if size > cp.size:
        return JSONResponse(
            {"consistent": False, "size": cp.size, "detail": "the log is smaller than you saw"}
        )
    try:
        proof = vault.ledger.consistency(size, cp.size)
        verify_consistency(size, cp.size, proof, bytes.fromhex(root), cp.root)
    except (VerificationError, UnknownEntry) as exc:
        return JSONResponse({"consistent": False, "size": cp.size, "detail": str(exc)})
    return JSONResponse({"consistent": True, "size": cp.size, "root": cp.root.hex()})


# -- metrics and legal overview -----------------------------------------------------------


PERIODS = (7, 30, 90, 365)


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(
    request: Request,
    vault: VaultDep,
    who: Who,
    policy: Policy,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> HTMLResponse:
    now = incidents.ledger_clock(vault)()
    since, until = metrics_period(now, None, None, days)
    m = incidents.metrics(vault, who, policy, since, until)
    per = m.per_severity
    mtta = charts.target_chart(
        "chart-mtta",
        f"Mean time to acknowledge per severity, incidents declared in the last {days} days",
        [charts.TargetRow(s.severity, s.mtta, s.acknowledge_target, s.acknowledged) for s in per],
    )
    mttc = charts.target_chart(
        "chart-mttc",
        f"Mean time to contain per severity, incidents declared in the last {days} days",
        [charts.TargetRow(s.severity, s.mttc, s.contain_target, s.contained) for s in per],
    )
    declared = charts.count_chart(
        "chart-declared",
        f"Incidents declared per severity in the last {days} days",
        [(s.severity, s.declared) for s in per],
    )
    return page(
        request,
        "metrics.html",
        {
            "m": m,
            "days": days,
            "periods": PERIODS,
            "charts": {"mtta": mtta, "mttc": mttc, "declared": declared},
            "lead": leadership_metrics(request, vault, who, PeriodQuery(days=days)),
        },
    )


@router.get("/legal", response_class=HTMLResponse)
def legal_page(
    request: Request, vault: VaultDep, who: Who, policy: Policy, page_no: PageNo = 1
) -> HTMLResponse:
    need(who, Role.legal, Role.admin, what="The legal and privacy overview")
    now = incidents.ledger_clock(vault)()
    facts = sorted(
        incidents.visible_facts(vault.engine, who), key=lambda f: f.declared_at, reverse=True
    )
    rows: list[tuple[CaseFacts, Deadline]] = []
    for f in facts:
        d = _deadline_map(case_deadlines(f, policy, now))["notify"]
        rows.append((f, d))
    notify = [r for r in rows if r[0].notification_required or r[0].personal_data]
    held = [f for f in facts if f.legal_hold]
    return page(
        request,
        "legal.html",
        {
            "notify": notify,
            "held": held,
            "all": paginate(facts, page_no, ROWS_PER_PAGE, []),
            "now": now,
            "window": timedelta(hours=policy.notification_hours),
        },
    )
