"""The case page's categories of data affected: shown with their labels, and set by form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from app.auth.models import Principal
from app.cases import data_categories as service
from app.cases.models import Case
from app.deps import VaultDep, current_principal, vault_of
from app.web.forms import back
from app.web.render import WebRoute, templates
from app.web.session import check_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Who = Annotated[Principal, Depends(current_principal)]

DONE = {"categories": "Categories of data affected recorded in the ledger."}


def categories_for(request: Request, case: Case) -> dict[str, Any]:
    """For the case page's template (data_categories.html): the case's categories and
    the configured list, each marked chosen or not."""
    path = vault_of(request).settings.data_categories_file
    chosen = service.stored(case.data_categories)
    return {
        "chosen": service.labelled(path, chosen),
        "options": [(c, c.key in chosen) for c in service.configured(path)],
    }


templates.env.globals["data_categories_for"] = categories_for


@router.post("/cases/{case_id}/data-categories")
async def set_categories(
    case_id: str, request: Request, vault: VaultDep, who: Who
) -> RedirectResponse:
    form = await request.form()
    check_form(request, form)
    keys = [v for v in form.getlist("category") if isinstance(v, str)]
    data = service.CategoriesIn.model_validate({"categories": keys})
    _, receipt = await run_in_threadpool(service.set_categories, vault, who, case_id, data)
    return back(f"/cases/{case_id}", "categories" if receipt else "unchanged", "legal-h")
