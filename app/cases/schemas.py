from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.cases.models import CaseStatus, Severity
from app.text import MultiLine, SingleLine

#: how far ahead of the server's clock a reported time may be (clients' clocks drift)
CLOCK_SKEW = timedelta(minutes=5)
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def past_time(value: datetime | None, name: str) -> datetime | None:
    """A time an incident fact happened: timezone-aware, UTC, and not in the future.

    A future declaration or awareness time would make SLAs and deadlines look met
    before anything happened, so it is refused rather than clamped.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"{name} must carry a timezone (e.g. Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{name} is outside the representable range") from None
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError(f"{name} lies in the future")
    if value < _EARLIEST:
        raise ValueError(f"{name} is implausibly early")
    return value


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: SingleLine = Field(min_length=1, max_length=200)
    description: MultiLine = Field(default="", max_length=20_000)
    severity: Severity
    owner: str | None = Field(default=None, max_length=64)
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    #: when the incident was declared, if before the case was opened here
    declared_at: datetime | None = None
    personal_data: bool = False
    notification_required: bool = False
    aware_at: datetime | None = None

    @field_validator("declared_at", "aware_at")
    @classmethod
    def _times(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        return past_time(v, str(info.field_name))


class CaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: SingleLine | None = Field(default=None, min_length=1, max_length=200)
    description: MultiLine | None = Field(default=None, max_length=20_000)
    severity: Severity | None = None
    status: CaseStatus | None = None
    owner: str | None = Field(default=None, max_length=64)
    #: why: required to reopen a closed case (sealed with the change)
    reason: MultiLine | None = Field(default=None, min_length=1, max_length=2000)
    #: when the change took effect, if earlier than now (a case contained an hour ago)
    occurred_at: datetime | None = None

    @field_validator("occurred_at")
    @classmethod
    def _occurred(cls, v: datetime | None) -> datetime | None:
        v = past_time(v, "occurred_at")
        if v is not None and v > datetime.now(UTC):
            # the seal refuses an `occurred_at` after its own time: no clock skew here
            raise ValueError("occurred_at lies in the future")
        return v


class PrivacyUpdate(BaseModel):
    """Legal and privacy flags. An explicit null clears a time (e.g. a mistaken notification)."""

    model_config = ConfigDict(extra="forbid")

    personal_data: bool | None = None
    notification_required: bool | None = None
    aware_at: datetime | None = None
    notified_at: datetime | None = None

    @field_validator("aware_at", "notified_at")
    @classmethod
    def _times(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        return past_time(v, str(info.field_name))


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
    declared_at: datetime | None
    personal_data: bool
    notification_required: bool
    aware_at: datetime | None
    notified_at: datetime | None


class CaseWithReceipt(BaseModel):
    case: CaseOut
    receipt: dict[str, Any]


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: bool
    reason: MultiLine = Field(min_length=1, max_length=2000)
