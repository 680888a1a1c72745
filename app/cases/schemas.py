from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.cases.models import CaseStatus, Severity


def _no_controls(value: str, allowed: str = "") -> str:
    """Control characters in case text are refused, never stored.

    PostgreSQL cannot store NUL at all (the insert failed with a 500), and a case title
    is quoted in reports, where control characters could hide or reorder text.
    """
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise ValueError("control characters are not allowed")
    return value


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    severity: Severity
    owner: str | None = Field(default=None, max_length=64)
    retention_days: int | None = Field(default=None, ge=1, le=36500)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return _no_controls(v)

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        return _no_controls(v, "\n\r\t")


class CaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    severity: Severity | None = None
    status: CaseStatus | None = None
    owner: str | None = Field(default=None, max_length=64)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str | None) -> str | None:
        return None if v is None else _no_controls(v)

    @field_validator("description")
    @classmethod
    def _description(cls, v: str | None) -> str | None:
        return None if v is None else _no_controls(v, "\n\r\t")


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
