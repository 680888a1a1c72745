from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.cases import service
from app.cases.models import Case, CaseStatus, Severity
from app.cases.schemas import (
    CaseCreate,
    CaseOut,
    CaseUpdate,
    CaseWithReceipt,
    HoldIn,
    MemberAdd,
)
from app.deps import Collector, LegalOnly, Reader, VaultDep
from app.edge.routes import GuardedRoute
from app.sealed_response import sealed

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=GuardedRoute)


def case_out(case: Case) -> CaseOut:
    return CaseOut.model_validate(case, from_attributes=True)


@router.post("", status_code=201, response_model=CaseWithReceipt)
async def create_case(data: CaseCreate, vault: VaultDep, who: Collector) -> CaseWithReceipt:
    case, receipt = await run_in_threadpool(service.create_case, vault, who, data)
    return CaseWithReceipt(case=case_out(case), receipt=receipt.to_json())


@router.get("", response_model=list[CaseOut])
def list_cases(
    vault: VaultDep,
    who: Reader,
    status: Annotated[CaseStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    hold: Annotated[bool | None, Query()] = None,
) -> list[CaseOut]:
    rows = service.list_cases(
        vault.engine,
        who,
        status=status.value if status else None,
        severity=severity.value if severity else None,
        hold=hold,
    )
    return [case_out(c) for c in rows]


@router.get("/{case_id}", response_model=CaseOut)
def read_case(case_id: str, vault: VaultDep, who: Reader) -> CaseOut:
    return case_out(service.readable_case(vault.engine, case_id, who))


@router.patch("/{case_id}")
async def update_case(
    case_id: str, data: CaseUpdate, vault: VaultDep, who: Collector
) -> dict[str, Any]:
    case, receipt = await run_in_threadpool(service.update_case, vault, who, case_id, data)
    return {"case": case_out(case), "receipt": receipt.to_json() if receipt else None}


@router.post("/{case_id}/members", status_code=201)
async def add_member(
    case_id: str, data: MemberAdd, vault: VaultDep, who: Collector
) -> JSONResponse:
    receipt = await run_in_threadpool(service.add_member, vault, who, case_id, data.principal)
    return sealed(receipt, status_code=201)


@router.post("/{case_id}/hold")
async def legal_hold(
    case_id: str, data: HoldIn, vault: VaultDep, who: LegalOnly
) -> CaseWithReceipt:
    """Place (on=true) or release (on=false) the legal hold: legal role only, not even admin."""
    case, receipt = await run_in_threadpool(
        service.set_hold, vault, who, case_id, data.on, data.reason
    )
    return CaseWithReceipt(case=case_out(case), receipt=receipt.to_json())
