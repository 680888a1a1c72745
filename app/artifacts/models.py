from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, String, Text
from sqlmodel import Field, SQLModel

from custody.types import UtcDateTime


class Artifact(SQLModel, table=True):
    """An item of evidence in a case. Invisible until its ingest event is sealed."""

    __tablename__ = "artifacts"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    case_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    file_name: str = Field(sa_column=Column(String(255), nullable=False))
    media_type: str = Field(sa_column=Column(String(127), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    sha1: str = Field(sa_column=Column(String(40), nullable=False))
    md5: str = Field(sa_column=Column(String(32), nullable=False))
    object_key: str = Field(sa_column=Column(String(200), nullable=False))
    source_host: str | None = Field(default=None, sa_column=Column(String(255)))
    collection_method: str | None = Field(default=None, sa_column=Column(String(255)))
    collection_tool: str | None = Field(default=None, sa_column=Column(String(255)))
    collected_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    collector: str = Field(sa_column=Column(String(64), nullable=False))
    custodian: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    #: leaf index of the sealed ingest event; NULL while the upload is in flight
    ingest_index: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))

    __table_args__ = (Index("ix_artifacts_case_created", "case_id", "created_at"),)
