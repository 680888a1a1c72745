"""A case's whole timeline, filtered and paged, with a link to the same rows as CSV."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.cases import service as cases
from app.deps import VaultDep
from app.incidents import service as incidents
from app.incidents import timeline
from app.incidents.views import timeline_filter
from app.web.deps import Who
from app.web.paging import PageNo, date_range, paginate
from app.web.render import WebRoute, page

router = APIRouter(route_class=WebRoute, include_in_schema=False)
#: rows per page of the timeline
EVENTS_PER_PAGE = 100


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
