"""Custody reports over HTTP. Each GET issues a report: it is recorded before it is served."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.auth.models import Principal, Role
from app.deps import VaultDep, require
from app.edge.routes import GuardedRoute
from app.reports import issuing

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["reports"], route_class=GuardedRoute)

# Legal issues reports; auditors and admins may too. Collectors may not: a report speaks for
# the vault about the whole case, not about one responder's uploads.
ReportIssuer = Annotated[Principal, Depends(require(Role.legal, Role.auditor, Role.admin))]


def _response(issued: issuing.IssuedReport) -> Response:
    return Response(
        issued.content,
        media_type=issued.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{issued.filename}"',
            # No cache may serve a copy whose issuance was never recorded.
            "Cache-Control": "no-store",
            "X-Locard-Report-SHA256": issued.sha256,
            "X-Locard-Event-Index": str(issued.receipt.event.index),
            "X-Locard-Checkpoint": str(issued.report.anchor.size),
        },
    )


@router.get("/report.json", response_class=Response)
async def report_json(case_id: str, vault: VaultDep, who: ReportIssuer) -> Response:
    """The custody report as JSON (the reference form); issuing it is a custody event."""
    return _response(await run_in_threadpool(issuing.issue_json, vault, who, case_id))


@router.get("/report.pdf", response_class=Response)
async def report_pdf(case_id: str, vault: VaultDep, who: ReportIssuer) -> Response:
    """The custody report as a PAdES-signed, time-stamped PDF; issuing it is a custody event."""
    return _response(await run_in_threadpool(issuing.issue_pdf, vault, who, case_id))


@router.get("/provenance.jsonld", response_class=Response)
async def provenance(case_id: str, vault: VaultDep, who: ReportIssuer) -> Response:
    """CASE/UCO JSON-LD of the case's provenance; issuing it is a custody event."""
    return _response(await run_in_threadpool(issuing.issue_jsonld, vault, who, case_id))
