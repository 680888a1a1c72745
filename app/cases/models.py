from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Text
from sqlmodel import Field, SQLModel


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


class Case(SQLModel, table=True):
    __tablename__ = "cases"

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    severity: str = Field(sa_column=Column(String(2), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    owner: str = Field(sa_column=Column(String(64), nullable=False))
    created_by: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    legal_hold: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False)
    )
    retention_days: int = Field(sa_column=Column(Integer, nullable=False))


class CaseMember(SQLModel, table=True):
    """Collectors see and add to the cases they are members of (the creator is one)."""

    __tablename__ = "case_members"

    case_id: str = Field(sa_column=Column(String(32), primary_key=True))
    principal_id: str = Field(sa_column=Column(String(64), primary_key=True))
