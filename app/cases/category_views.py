"""Data categories API: which categories of data the incident affects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from app.cases import data_categories as service
from app.deps import Collector, Reader, VaultDep
from app.edge.routes import GuardedRoute

router = APIRouter(
    prefix="/v1/cases/{case_id}/data-categories", tags=["cases"], route_class=GuardedRoute
)


def _out(vault: Any, chosen: list[service.Category]) -> dict[str, Any]:
    return {
        "categories": [{"key": c.key, "label": c.label} for c in chosen],
        "available": [
            {"key": c.key, "label": c.label}
            for c in service.configured(vault.settings.data_categories_file)
        ],
    }


@router.get("")
def read_categories(case_id: str, vault: VaultDep, who: Reader) -> dict[str, Any]:
    """The case's categories of data affected, and the configured list they come from."""
    return _out(vault, service.case_categories(vault, who, case_id))


@router.post("")
async def set_categories(
    case_id: str, data: service.CategoriesIn, vault: VaultDep, who: Collector
) -> dict[str, Any]:
    """Replace the case's categories (keys of the configured list); the same set again
    records nothing."""
    chosen, receipt = await run_in_threadpool(service.set_categories, vault, who, case_id, data)
    return {**_out(vault, chosen), "receipt": receipt.to_json() if receipt else None}
