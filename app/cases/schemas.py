from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.cases.models import CaseStatus, Severity


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    severity: Severity
    owner: str | None = Field(default=None, max_length=64)
    retention_days: int | None = Field(default=None, ge=1, le=36500)


class CaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    severity: Severity | None = None
    status: CaseStatus | None = None
    owner: str | None = Field(default=None, max_length=64)


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principal: str = Field(min_length=1, max_length=64)


class CaseOut(BaseModel):
    id: str
    title: str
    description: str
    severity: str
    status: str
    owner: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    legal_hold: bool
    retention_days: int


class CaseWithReceipt(BaseModel):
    case: CaseOut
    receipt: dict[str, Any]


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: bool
    reason: str = Field(min_length=1, max_length=2000)
