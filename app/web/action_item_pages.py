"""Pages for action items: the signed-in principal's list across cases, and closing an
item with the evidence of its verification check (a note or an artifact of the case)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.auth.models import Principal
from app.deps import VaultDep, current_principal
from app.incidents import action_items, reviews
from app.incidents import service as incidents
from app.web.forms import back, field
from app.web.paging import ROWS_PER_PAGE, PageNo, paginate
from app.web.render import WebRoute, page
from app.web.session import check_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Who = Annotated[Principal, Depends(current_principal)]
Id = Annotated[str, Path(max_length=64)]

DONE = {
    "item_closed": "Action item closed; its evidence is recorded in the ledger.",
    "item_cancelled": "Action item cancelled; the reason is recorded in the ledger.",
}


@router.get("/action-items", response_class=HTMLResponse)
def my_items(request: Request, vault: VaultDep, who: Who, page_no: PageNo = 1) -> HTMLResponse:
    today = incidents.ledger_clock(vault)().date()
    rows = action_items.owned_items(vault, who, who.id, today)
    return page(
        request,
        "action_items.html",
        {
            "paged": paginate(rows, page_no, ROWS_PER_PAGE, []),
            "today": today,
            "overdue": sum(1 for r in rows if r.item.overdue(today)),
        },
    )


@router.post("/cases/{case_id}/reviews/{review_id}/items/{item_id}/close")
async def close_item(
    case_id: str, review_id: Id, item_id: Id, request: Request, vault: VaultDep, who: Who
) -> RedirectResponse:
    form = await request.form()
    check_form(request, form)
    cancel = field(form, "outcome") == "cancelled"
    data = reviews.ActionItemUpdate.model_validate(
        {
            "state": reviews.ItemState.cancelled if cancel else reviews.ItemState.done,
            "note": field(form, "note"),
            "evidence_artifact": field(form, "evidence_artifact") or None,
        }
    )
    await run_in_threadpool(reviews.update_item, vault, who, case_id, review_id, item_id, data)
    target = "/action-items" if field(form, "next") == "mine" else f"/cases/{case_id}"
    return back(target, "item_cancelled" if cancel else "item_closed", "rev-h")
