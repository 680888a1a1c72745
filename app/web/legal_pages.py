"""The legal and privacy overview: notification deadlines, holds, every case."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth.models import Role
from app.deps import VaultDep
from app.incidents import service as incidents
from app.incidents.metrics import CaseFacts, Deadline, case_deadlines
from app.web.case_pages import deadline_map
from app.web.deps import Policy, Who, need
from app.web.paging import ROWS_PER_PAGE, PageNo, paginate
from app.web.render import WebRoute, page

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/legal", response_class=HTMLResponse)
def legal_page(
    request: Request, vault: VaultDep, who: Who, policy: Policy, page_no: PageNo = 1
) -> HTMLResponse:
    need(who, Role.legal, Role.admin, what="The legal and privacy overview")
    now = incidents.ledger_clock(vault)()
    facts = sorted(
        incidents.visible_facts(vault.engine, who), key=lambda f: f.declared_at, reverse=True
    )
    rows: list[tuple[CaseFacts, Deadline]] = []
    for f in facts:
        d = deadline_map(case_deadlines(f, policy, now))["notify"]
        rows.append((f, d))
    notify = [r for r in rows if r[0].notification_required or r[0].personal_data]
    held = [f for f in facts if f.legal_hold]
    return page(
        request,
        "legal.html",
        {
            "notify": notify,
            "held": held,
            "all": paginate(facts, page_no, ROWS_PER_PAGE, []),
            "now": now,
            "window": timedelta(hours=policy.notification_hours),
        },
    )
