"""Page forms for a case's playbook: classify the case, record a checklist step.

The checklist itself is shown on the case page (app/web/case_pages.py reads it); these are
its writes, CSRF-checked like every page form, redirecting back with a fixed message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.auth.models import Principal
from app.deps import VaultDep, current_principal
from app.playbooks import service
from app.playbooks.definitions import Playbook
from app.playbooks.views import get_playbooks
from app.web.forms import back, field, form_time
from app.web.render import WebRoute
from app.web.session import check_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Who = Annotated[Principal, Depends(current_principal)]
Books = Annotated[dict[str, Playbook], Depends(get_playbooks)]

#: fixed messages after these forms (the case page shows them by code)
DONE = {
    "classified": "Case classified: its playbook is now the checklist below.",
    "step_done": "Step recorded as done in the ledger.",
    "step_skipped": "Step recorded as skipped, with your reason, in the ledger.",
    "step_deviated": "Deviation from the step recorded in the ledger.",
}


@router.post("/cases/{case_id}/classification")
async def classify(
    case_id: str, request: Request, vault: VaultDep, who: Who, books: Books
) -> Response:
    form = await request.form()
    check_form(request, form)
    data = service.ClassifyIn.model_validate({"scenario": field(form, "scenario")})
    _, receipt = await run_in_threadpool(
        service.classify, vault, who, case_id, data.scenario, books
    )
    return back(f"/cases/{case_id}", "classified" if receipt else "unchanged", "pb-h")


@router.post("/cases/{case_id}/playbook/{step_id}")
async def record_step(
    case_id: str,
    step_id: Annotated[str, Path(max_length=64)],
    request: Request,
    vault: VaultDep,
    who: Who,
) -> RedirectResponse:
    form = await request.form()
    check_form(request, form)
    values: dict[str, Any] = {"outcome": field(form, "outcome"), "reason": field(form, "reason")}
    told = form_time(form, "occurred_at")
    if told is not None:
        values["occurred_at"] = told
    data = service.StepIn.model_validate(values)
    await run_in_threadpool(service.record_step, vault, who, case_id, step_id, data)
    return back(f"/cases/{case_id}", f"step_{data.outcome.value}", "pb-h")
