"""Legal hold, for the legal role: the hold page, and placing or releasing a hold."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from app.artifacts import service as artifacts
from app.auth.models import Role
from app.cases import service as cases
from app.cases.schemas import HoldIn
from app.deps import VaultDep
from app.errors import BadRequest
from app.incidents import service as incidents
from app.incidents import timeline
from app.web.deps import Who, need
from app.web.forms import back, field
from app.web.render import WebRoute, page
from app.web.session import check_form, safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)


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
