"""The case page's forms: status and severity, privacy flags, assessment, notes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.auth.models import Role
from app.cases import service as cases
from app.cases.schemas import CaseUpdate, PrivacyUpdate
from app.deps import VaultDep
from app.incidents import service as incidents
from app.incidents.views import AssessmentIn, NoteIn, NoteKind
from app.web.deps import Who, need
from app.web.forms import back, field, form_time
from app.web.render import WebRoute
from app.web.session import check_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)


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
