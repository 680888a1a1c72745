"""Principals (admin only): tokens are returned once at creation and stored hashed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role
from app.auth.service import create_principal, list_principals, principal_event_body
from app.deps import Admin, Reader, VaultDep
from app.edge.routes import GuardedRoute
from app.events import record
from app.text import SingleLine

router = APIRouter(prefix="/v1/principals", tags=["principals"], route_class=GuardedRoute)


class PrincipalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[SingleLine, Field(min_length=1, max_length=64)]
    role: Role
    public_key: Annotated[str | None, Field(max_length=64)] = None


class PrincipalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    role: str
    public_key: str | None
    created_at: datetime


@router.post("", status_code=201)
def add_principal(data: PrincipalIn, vault: VaultDep, who: Admin) -> dict[str, Any]:
    p, token = create_principal(vault.engine, data.name, data.role.value, data.public_key)
    receipt = record(vault, who, "principal.created", principal_event_body(p))
    return {
        "principal": PrincipalOut.model_validate(p),
        "token": token,
        "receipt": receipt.to_json(),
    }


@router.get("", response_model=list[PrincipalOut])
def all_principals(vault: VaultDep, who: Admin) -> list[PrincipalOut]:
    return [PrincipalOut.model_validate(p) for p in list_principals(vault.engine)]


@router.get("/me", response_model=PrincipalOut)
def me(who: Reader) -> PrincipalOut:
    return PrincipalOut.model_validate(who)
