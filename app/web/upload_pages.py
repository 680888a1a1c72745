"""Pages for collectors: open a case, and upload evidence to it from the browser.

The upload page holds no upload logic on the server: its script (static/upload.js)
speaks the resumable upload protocol of the API (app/uploads) with the session cookie,
the CSRF header and the page's own Origin, as `locard upload` does with a token. So the
browser gets the same guarantees — bytes streamed to a spool and acknowledged chunk by
chunk, re-hashed on completion against the SHA-256 declared up front, one artifact even
if completion is asked twice — and the server keeps one code path for evidence.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth.models import Principal, Role
from app.cases import service as cases
from app.cases.schemas import CaseCreate
from app.deps import VaultDep, current_principal
from app.errors import Forbidden
from app.incidents.metrics import SEVERITIES
from app.web.forms import field, form_time
from app.web.render import WebRoute, page
from app.web.session import check_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Who = Annotated[Principal, Depends(current_principal)]

#: bytes per PATCH: large enough that per-request costs vanish, small enough that a
#: broken link re-sends little (the CLI's default too)
CHUNK_BYTES = 8 << 20

DONE = {"case_created": "Case opened. Upload its first evidence below."}


def _need_collector(who: Principal, what: str) -> None:
    if who.role not in (Role.collector.value, Role.admin.value):
        raise Forbidden(f"{what} is for the collector or admin role; you are {who.role}")


@router.get("/cases/new", response_class=HTMLResponse)
def new_case_page(request: Request, who: Who) -> HTMLResponse:
    _need_collector(who, "Opening a case")
    return page(request, "new_case.html", {"severities": SEVERITIES, "values": {}})


@router.post("/cases/new")
async def open_case(request: Request, vault: VaultDep, who: Who) -> Response:
    form = await request.form()
    check_form(request, form)
    _need_collector(who, "Opening a case")
    values: dict[str, Any] = {
        "title": field(form, "title"),
        "description": field(form, "description"),
        "severity": field(form, "severity"),
        "personal_data": field(form, "personal_data") == "yes",
        "notification_required": field(form, "notification_required") == "yes",
    }
    declared = form_time(form, "declared_at")
    if declared is not None:
        values["declared_at"] = declared
    data = CaseCreate.model_validate(values)  # a 422 page before anything is sealed
    case, _ = await run_in_threadpool(cases.create_case, vault, who, data)
    return RedirectResponse(f"/cases/{case.id}/upload?done=case_created", 303)


@router.get("/cases/{case_id}/upload", response_class=HTMLResponse)
def upload_page(
    request: Request, case_id: str, vault: VaultDep, who: Who, done: str | None = None
) -> HTMLResponse:
    case = cases.writable_case(vault.engine, case_id, who)
    return page(
        request,
        "upload.html",
        {
            "case": case,
            "chunk_bytes": CHUNK_BYTES,
            "max_bytes": vault.settings.max_upload_bytes,
            "flash": DONE.get(done or ""),
        },
    )
