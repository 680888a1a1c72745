"""Pages for a case's assets: one asset with what concerns it, and recording one."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.artifacts.service import list_artifacts
from app.assets import service
from app.assets.views import LinkIn
from app.auth.models import Principal, Role
from app.cases.service import readable_case
from app.deps import VaultDep, current_principal
from app.web.forms import back, field
from app.web.render import WebRoute, page
from app.web.session import check_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Who = Annotated[Principal, Depends(current_principal)]

DONE = {
    "asset": "Asset recorded in the ledger.",
    "linked": "Artifact linked to this asset in the ledger.",
}


@router.get("/cases/{case_id}/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(
    request: Request,
    case_id: str,
    asset_id: Annotated[str, Path(max_length=300)],
    vault: VaultDep,
    who: Who,
    done: str | None = None,
) -> HTMLResponse:
    case = readable_case(vault.engine, case_id, who)
    view = service.get_asset(vault, who, case.id, asset_id)
    linked = {x.id for x in view.artifacts}
    others = [x for x in list_artifacts(vault.engine, case.id, who) if x.id not in linked]
    return page(
        request,
        "asset.html",
        {
            "case": case,
            "view": view,
            "a": view.asset,
            "others": others,
            "can_link": who.role in (Role.collector, Role.admin),
            "flash": DONE.get(done or ""),
        },
    )


@router.post("/cases/{case_id}/assets")
async def record_asset(
    case_id: str, request: Request, vault: VaultDep, who: Who
) -> RedirectResponse:
    form = await request.form()
    check_form(request, form)
    data = service.AssetIn.model_validate(
        {k: field(form, k) for k in ("kind", "name", "owner", "criticality", "notes")}
    )
    _, receipt = await run_in_threadpool(service.record_asset, vault, who, case_id, data)
    return back(f"/cases/{case_id}", "asset" if receipt else "unchanged", "as-h")


@router.post("/cases/{case_id}/assets/{asset_id}/artifacts")
async def link_artifact(
    case_id: str,
    asset_id: Annotated[str, Path(max_length=300)],
    request: Request,
    vault: VaultDep,
    who: Who,
) -> RedirectResponse:
    form = await request.form()
    check_form(request, form)
    data = LinkIn.model_validate({"artifact": field(form, "artifact")})
    _, receipt = await run_in_threadpool(
        service.link_artifact, vault, who, case_id, asset_id, data.artifact
    )
    url = f"/cases/{case_id}/assets/{quote(asset_id, safe='')}"
    return back(url, "linked" if receipt else "unchanged", "aa-h")
