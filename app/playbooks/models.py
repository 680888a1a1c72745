"""Index rows of a case's playbook and its checklist: written only by the projections of
`case.classified` and `playbook.step` (app/events/playbook_events.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, String, Text
from sqlmodel import Field, SQLModel

from custody.types import UtcDateTime


class CasePlaybook(SQLModel, table=True):
    """The scenario a case is classified as and the playbook that gave it its steps."""

    __tablename__ = "case_playbooks"

    case_id: str = Field(sa_column=Column(String(32), primary_key=True))
    scenario: str = Field(sa_column=Column(String(64), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    classified_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    classified_by: str = Field(sa_column=Column(String(64), nullable=False))


class PlaybookStep(SQLModel, table=True):
    """One checklist step of a case's current playbook, and what became of it."""

    __tablename__ = "playbook_steps"

    case_id: str = Field(sa_column=Column(String(32), primary_key=True))
    step_id: str = Field(sa_column=Column(String(64), primary_key=True))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    phase: str = Field(sa_column=Column(String(32), nullable=False))
    action: str | None = Field(default=None, sa_column=Column(String(32)))
    guidance: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: pending, done, skipped or deviated
    state: str = Field(sa_column=Column(String(16), nullable=False))
    #: why it was skipped or how it deviated (a note when done)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    #: when it was done, as told (else when it was recorded)
    occurred_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    recorded_by: str | None = Field(default=None, sa_column=Column(String(64)))
    #: the ledger index of the `playbook.step` event
    recorded_index: int | None = Field(default=None, sa_column=Column(BigInteger))
