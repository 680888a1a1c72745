"""Search API: full text over the cases a principal may see, and hash lookup."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.deps import Reader, VaultDep
from app.edge.routes import GuardedRoute
from app.search import service

router = APIRouter(prefix="/v1/search", tags=["search"], route_class=GuardedRoute)


@router.get("")
def search(
    vault: VaultDep,
    who: Reader,
    q: Annotated[str, Query(description="words (each matched as a prefix), or a hex digest")],
    limit: Annotated[int, Query(ge=1, le=service.MAX_RESULTS)] = 20,
) -> dict[str, Any]:
    """Cases, timeline entries and artifacts whose words match every word of `q`; a `q`
    that is a SHA-256, SHA-1 or MD5 digest also finds the artifacts with those bytes."""
    return service.search(vault, who, q, limit).to_json()
