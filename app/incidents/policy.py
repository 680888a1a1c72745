"""Response targets per severity and the notification window, from LOCARD_* variables.

`LOCARD_SLA='{"P1": {"acknowledge_minutes": 10}}'` overrides merge with the defaults;
`LOCARD_NOTIFICATION_HOURS=72` sets the notification window.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.cases.models import Severity


class SlaTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: from declaration to acknowledgement (status leaves `new`)
    acknowledge_minutes: float = Field(gt=0)
    #: from declaration to containment (status reaches `contained` or later)
    contain_minutes: float = Field(gt=0)

    @property
    def acknowledge(self) -> timedelta:
        return timedelta(minutes=self.acknowledge_minutes)

    @property
    def contain(self) -> timedelta:
        return timedelta(minutes=self.contain_minutes)


DEFAULT_SLA: dict[str, SlaTarget] = {
    Severity.P1: SlaTarget(acknowledge_minutes=15, contain_minutes=4 * 60),
    Severity.P2: SlaTarget(acknowledge_minutes=60, contain_minutes=24 * 60),
    Severity.P3: SlaTarget(acknowledge_minutes=8 * 60, contain_minutes=3 * 24 * 60),
    Severity.P4: SlaTarget(acknowledge_minutes=24 * 60, contain_minutes=7 * 24 * 60),
}


class IncidentPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOCARD_", extra="ignore", frozen=True)

    sla: dict[str, SlaTarget] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    #: what marks containment for MTTC and the SLA: the status change (`status`) or the
    #: first containment action that succeeded or partly did (`first_action`)
    contained_from: Literal["status", "first_action"] = "status"
    #: regulator/customer notification window from awareness (GDPR art. 33: 72 hours)
    notification_hours: float = Field(default=72, gt=0)

    @field_validator("sla", mode="before")
    @classmethod
    def _merge(cls, value: Any) -> Any:
        """Partial overrides keep the defaults for the rest; unknown severities are refused."""
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {k: t.model_dump() for k, t in DEFAULT_SLA.items()}
        for sev, target in value.items():
            if sev not in merged:
                raise ValueError(f"unknown severity {sev!r}; one of {sorted(merged)}")
            override = target.model_dump() if isinstance(target, SlaTarget) else target
            if not isinstance(override, dict):
                raise ValueError(f"SLA for {sev} must be an object")
            merged[sev] = {**merged[sev], **override}
        return merged

    @property
    def notification_window(self) -> timedelta:
        return timedelta(hours=self.notification_hours)

    def target(self, severity: str) -> SlaTarget:
        # An unknown severity (none exists today) gets the strictest targets, not none.
        return self.sla.get(severity, self.sla[Severity.P1])
