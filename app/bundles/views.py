"""`GET /v1/cases/{case}/bundle`: the evidence bundle, streamed."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.bundles import service
from app.deps import ProofReader, VaultDep
from app.edge.routes import GuardedRoute

router = APIRouter(prefix="/v1", tags=["bundles"], route_class=GuardedRoute)


@router.get(
    "/cases/{case_id}/bundle",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The bundle, streamed (chunked; no Content-Length).",
        }
    },
)
async def export_bundle(
    case_id: str,
    vault: VaultDep,
    who: ProofReader,
    content: Annotated[
        bool, Query(description="Include the artifacts' bytes (false: proofs only).")
    ] = True,
) -> StreamingResponse:
    """Export the case as a `locard-bundle/2` zip that `locard verify` checks offline.

    The export and each artifact access are sealed before the first byte is sent; the
    `X-Locard-Export-Event` header gives the export event's ledger index.
    """
    plan = await run_in_threadpool(service.start_export, vault, who, case_id, content)
    name = quote(f"{plan.case.id}-bundle.zip", safe="")
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
        "X-Locard-Export-Event": str(plan.export.event.index),
        "X-Locard-Anchor-Size": str(plan.anchor),
    }
    return StreamingResponse(
        service.stream_bundle(vault, plan), media_type="application/zip", headers=headers
    )
