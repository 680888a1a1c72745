from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Column, Integer, String, Text
from sqlmodel import Field, SQLModel

from custody.types import UtcDateTime


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class CaseStatus(StrEnum):
    new = "new"
    triaged = "triaged"
    contained = "contained"
    eradicated = "eradicated"
    recovered = "recovered"
    closed = "closed"


#: order of the incident life cycle; "at least contained" is how MTTC is measured
STATUS_ORDER: tuple[str, ...] = tuple(s.value for s in CaseStatus)


class Case(SQLModel, table=True):
    __tablename__ = "cases"

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    severity: str = Field(sa_column=Column(String(2), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    owner: str = Field(sa_column=Column(String(64), nullable=False))
    created_by: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    legal_hold: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False)
    )
    retention_days: int = Field(sa_column=Column(Integer, nullable=False))
    # Incident context. These columns index what the ledger says (filters, lists); SLA
    # and deadline computations read the events themselves (app/incidents/metrics.py).
    #: when the incident was declared: the SLA clocks start here (NULL only on rows
    #: written before migration 0004, which backfills it from created_at)
    declared_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    #: personal data was (possibly) exposed
    personal_data: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False)
    )
    #: a regulator or customers must be notified (e.g. GDPR art. 33: 72 hours)
    notification_required: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False)
    )
    #: explicit time of awareness of the breach; NULL: when notification became required
    aware_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    #: when the notification was made; NULL: not yet
    notified_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    #: keys of the categories of data affected, comma-separated in the configured order
    #: (app/cases/data_categories.py); written by the `case.data_categories` projection
    data_categories: str = Field(
        default="", sa_column=Column(Text, nullable=False, default="", server_default="")
    )


class CaseMember(SQLModel, table=True):
    """Collectors see and add to the cases they are members of (the creator is one)."""

    __tablename__ = "case_members"

    case_id: str = Field(sa_column=Column(String(32), primary_key=True))
    principal_id: str = Field(sa_column=Column(String(64), primary_key=True))
