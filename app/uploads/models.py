from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, String, Text
from sqlmodel import Field, SQLModel

from custody.types import UtcDateTime


class UploadState(StrEnum):
    open = "open"
    #: the bytes became an artifact; kept so a retried `complete` gets the same answer
    completed = "completed"
    #: the received bytes were unusable (digest mismatch, spool lost); start a new upload
    failed = "failed"
    #: not completed in time; the spool was removed
    expired = "expired"


class UploadSession(SQLModel, table=True):
    """A resumable upload in progress. Not evidence: nothing here is in the ledger until
    `complete` turns the spooled bytes into an artifact."""

    __tablename__ = "upload_sessions"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    case_id: str = Field(sa_column=Column(String(32), nullable=False))
    principal_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    file_name: str = Field(sa_column=Column(String(255), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    #: the validated ArtifactMeta as JSON, re-validated at completion
    meta: str = Field(sa_column=Column(Text, nullable=False))
    #: the collector's manifest signature header, re-checked at completion
    signature: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    #: bytes durably in the spool (fsynced before this moved)
    upload_offset: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    #: every body byte read by PATCH, kept or not: shows what resuming saved
    bytes_received: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    artifact_id: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))

    __table_args__ = (Index("ix_upload_sessions_state_expires", "state", "expires_at"),)
