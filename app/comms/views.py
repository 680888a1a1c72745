"""Communication API: a draft rendered from the case facts, and issuing the reviewed text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from app.artifacts.schemas import ArtifactOut
from app.comms import service
from app.comms.templates import Kind
from app.deps import Collector, Reader, VaultDep
from app.edge.routes import GuardedRoute
from app.incidents.views import get_policy

router = APIRouter(
    prefix="/v1/cases/{case_id}/communications", tags=["communications"], route_class=GuardedRoute
)


@router.get("/{kind}/draft")
def draft(
    case_id: str, kind: Kind, request: Request, vault: VaultDep, who: Reader
) -> dict[str, Any]:
    """The template rendered from the case facts now, for review; records nothing."""
    r = service.draft(vault, who, case_id, kind, get_policy(request))
    return {"kind": r.kind, "text": r.text, "template_sha256": r.template_sha256}


@router.post("", status_code=201)
async def issue(
    case_id: str, data: service.IssueIn, request: Request, vault: VaultDep, who: Collector
) -> dict[str, Any]:
    """Issue an update: the text (as reviewed, else as drafted) becomes evidence of the case
    and `communication.issued` is sealed on it."""
    art, receipt = await run_in_threadpool(
        service.issue, vault, who, case_id, data, get_policy(request)
    )
    return {"artifact": ArtifactOut.model_validate(art), "receipt": receipt.to_json()}
