"""Principals (admin only): tokens are returned once at creation and stored hashed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role
from app.auth.service import get_principal, list_principals, principal_draft
from app.deps import Admin, Reader, VaultDep
from app.events import submit

router = APIRouter(prefix="/v1/principals", tags=["principals"])


class PrincipalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
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
    d, token = principal_draft(who.id, who.role, data.name, data.role.value, data.public_key)
    receipt = submit(vault, d)
    p = get_principal(vault.engine, data.name)
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
