"""Principals (admin only): tokens are returned once and stored hashed; legal and admin
principals need a second admin's approval (see `app.principals.service`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role
from app.auth.service import list_principals
from app.deps import Admin, Reader, VaultDep
from app.edge.routes import GuardedRoute
from app.principals import service
from app.text import SingleLine

router = APIRouter(prefix="/v1/principals", tags=["principals"], route_class=GuardedRoute)


class PrincipalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[SingleLine, Field(min_length=1, max_length=64)]
    role: Role
    public_key: Annotated[str | None, Field(max_length=64)] = None


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[SingleLine, Field(min_length=1, max_length=500)]


class PrincipalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    role: str
    public_key: str | None
    created_at: datetime
    disabled: bool = False
    token_expires_at: datetime | None = None


class RequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    principal: str
    role: str
    requested_by: str
    requested_at: datetime
    state: str
    decided_by: str | None
    decided_at: datetime | None


def _answer(added: service.Added, response: Response) -> dict[str, Any]:
    out: dict[str, Any] = {"receipt": added.receipt.to_json()}
    if added.request is not None:
        response.status_code = 202  # accepted: waits for a second admin
        out["request"] = RequestOut.model_validate(added.request)
    if added.principal is not None:
        out["principal"] = PrincipalOut.model_validate(added.principal)
    if added.token is not None:
        out["token"] = added.token
    return out


@router.post("", status_code=201)
async def add_principal(
    data: PrincipalIn, response: Response, vault: VaultDep, who: Admin
) -> dict[str, Any]:
    """Collectors and auditors at once (201); legal and admin as a request (202)."""
    added = await run_in_threadpool(
        service.add_principal, vault, who, data.name, data.role.value, data.public_key
    )
    return _answer(added, response)


@router.get("", response_model=list[PrincipalOut])
def all_principals(vault: VaultDep, who: Admin) -> list[PrincipalOut]:
    return [PrincipalOut.model_validate(p) for p in list_principals(vault.engine)]


@router.get("/me", response_model=PrincipalOut)
def me(who: Reader) -> PrincipalOut:
    return PrincipalOut.model_validate(who)


@router.get("/requests", response_model=list[RequestOut])
def requests(vault: VaultDep, who: Admin, state: str | None = None) -> list[RequestOut]:
    return [RequestOut.model_validate(r) for r in service.list_requests(vault, state)]


@router.post("/requests/{request_id}/approve", status_code=201)
async def approve(
    request_id: str, response: Response, vault: VaultDep, who: Admin
) -> dict[str, Any]:
    """Another admin than the requester approves; a new principal's token is returned once."""
    added = await run_in_threadpool(service.approve, vault, who, request_id)
    return _answer(added, response)


@router.post("/requests/{request_id}/decline")
async def decline(request_id: str, data: ReasonIn, vault: VaultDep, who: Admin) -> dict[str, Any]:
    receipt = await run_in_threadpool(service.decline, vault, who, request_id, data.reason)
    return {"receipt": receipt.to_json()}


@router.post("/{name}/role")
async def change_role(
    name: str, data: RoleIn, response: Response, vault: VaultDep, who: Admin
) -> dict[str, Any]:
    """To collector or auditor at once (200); to legal or admin as a request (202)."""
    added = await run_in_threadpool(service.change_role, vault, who, name, data.role.value)
    return _answer(added, response)


@router.post("/{name}/disable")
async def disable(name: str, data: ReasonIn, vault: VaultDep, who: Admin) -> dict[str, Any]:
    receipt = await run_in_threadpool(service.disable, vault, who, name, data.reason)
    return {"receipt": receipt.to_json()}
