"""The search page: words across the cases the principal may see, or a hash of the bytes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.auth.models import Principal
from app.deps import VaultDep, current_principal
from app.search import service
from app.search.terms import MAX_QUERY, BadQuery
from app.web.render import WebRoute, page

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Who = Annotated[Principal, Depends(current_principal)]


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    vault: VaultDep,
    who: Who,
    q: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    ctx: dict[str, object] = {"q": q or "", "max_query": MAX_QUERY, "results": None}
    if q is None or not q.strip():
        return page(request, "search.html", ctx)
    try:
        ctx["results"] = await run_in_threadpool(service.search, vault, who, q)
    except BadQuery as exc:
        ctx["error"] = exc.message
        return page(request, "search.html", ctx, status_code=400)
    return page(request, "search.html", ctx)
