"""Asset API: the hosts, accounts, containers and IPs involved in a case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from app.assets import service
from app.deps import Collector, Reader, VaultDep
from app.edge.routes import GuardedRoute

router = APIRouter(prefix="/v1/cases/{case_id}/assets", tags=["assets"], route_class=GuardedRoute)


@router.post("")
async def record_asset(
    case_id: str, data: service.AssetIn, vault: VaultDep, who: Collector
) -> dict[str, Any]:
    """Record (or update) an asset of the case; the same values again record nothing."""
    view, receipt = await run_in_threadpool(service.record_asset, vault, who, case_id, data)
    return {"asset": view.to_json(), "receipt": receipt.to_json() if receipt else None}


@router.get("")
def list_assets(case_id: str, vault: VaultDep, who: Reader) -> list[dict[str, Any]]:
    """Each asset with the containment actions aimed at it and the artifacts taken from it."""
    return [v.to_json() for v in service.list_assets(vault, who, case_id)]


@router.get("/{asset_id}")
def read_asset(
    case_id: str, asset_id: Annotated[str, Path(max_length=300)], vault: VaultDep, who: Reader
) -> dict[str, Any]:
    return service.get_asset(vault, who, case_id, asset_id).to_json()


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    artifact: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post("/{asset_id}/artifacts")
async def link_artifact(
    case_id: str,
    asset_id: Annotated[str, Path(max_length=300)],
    data: LinkIn,
    vault: VaultDep,
    who: Collector,
) -> dict[str, Any]:
    """Link an artifact of the case to this asset (by id: whatever its source host says)."""
    view, receipt = await run_in_threadpool(
        service.link_artifact, vault, who, case_id, asset_id, data.artifact
    )
    return {"asset": view.to_json(), "receipt": receipt.to_json() if receipt else None}
