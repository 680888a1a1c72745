"""Pages for communication updates: the draft for review and issuing it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.auth.models import Principal, Role
from app.cases.service import readable_case
from app.comms import service
from app.comms.templates import Kind
from app.deps import VaultDep, current_principal
from app.incidents.views import get_policy
from app.web.forms import back, field
from app.web.render import WebRoute, page
from app.web.session import check_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Who = Annotated[Principal, Depends(current_principal)]

DONE = {"issued": "Update issued: its text is stored as evidence and the issue is sealed."}


@router.get("/cases/{case_id}/communications/{kind}", response_class=HTMLResponse)
def draft_page(
    request: Request, case_id: str, kind: Kind, vault: VaultDep, who: Who
) -> HTMLResponse:
    case = readable_case(vault.engine, case_id, who)
    rendered = service.draft(vault, who, case.id, kind, get_policy(request))
    return page(
        request,
        "communication.html",
        {
            "case": case,
            "kind": kind.value,
            "rendered": rendered,
            "can_issue": who.role in (Role.collector, Role.admin),
        },
    )


@router.post("/cases/{case_id}/communications")
async def issue(case_id: str, request: Request, vault: VaultDep, who: Who) -> RedirectResponse:
    form = await request.form()
    check_form(request, form)
    raw = form.get("text")
    # Browsers send a textarea's lines ending in CRLF: an unedited draft must read as one.
    text = raw.replace("\r\n", "\n") if isinstance(raw, str) and raw.strip() else None
    data = service.IssueIn.model_validate(
        {"kind": field(form, "kind"), "recipient": field(form, "recipient"), "text": text}
    )
    await run_in_threadpool(service.issue, vault, who, case_id, data, get_policy(request))
    return back(f"/cases/{case_id}", "issued", "com-h")
