"""The metrics page: response times against the policy's targets over a chosen period."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.deps import VaultDep
from app.incidents import service as incidents
from app.incidents.views import PeriodQuery, leadership_metrics, metrics_period
from app.web import charts
from app.web.deps import Policy, Who
from app.web.render import WebRoute, page

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PERIODS = (7, 30, 90, 365)


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(
    request: Request,
    vault: VaultDep,
    who: Who,
    policy: Policy,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> HTMLResponse:
    now = incidents.ledger_clock(vault)()
    since, until = metrics_period(now, None, None, days)
    m = incidents.metrics(vault, who, policy, since, until)
    per = m.per_severity
    mtta = charts.target_chart(
        "chart-mtta",
        f"Mean time to acknowledge per severity, incidents declared in the last {days} days",
        [charts.TargetRow(s.severity, s.mtta, s.acknowledge_target, s.acknowledged) for s in per],
    )
    mttc = charts.target_chart(
        "chart-mttc",
        f"Mean time to contain per severity, incidents declared in the last {days} days",
        [charts.TargetRow(s.severity, s.mttc, s.contain_target, s.contained) for s in per],
    )
    declared = charts.count_chart(
        "chart-declared",
        f"Incidents declared per severity in the last {days} days",
        [(s.severity, s.declared) for s in per],
    )
    return page(
        request,
        "metrics.html",
        {
            "m": m,
            "days": days,
            "periods": PERIODS,
            "charts": {"mtta": mtta, "mttc": mttc, "declared": declared},
            "lead": leadership_metrics(request, vault, who, PeriodQuery(days=days)),
        },
    )
