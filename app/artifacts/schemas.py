from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.text import MultiLine, SingleLine


class ArtifactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    file_name: str
    media_type: str
    size: int
    sha256: str
    sha1: str
    md5: str
    source_host: str | None
    collection_method: str | None
    collection_tool: str | None
    collected_at: datetime | None
    notes: str
    collector: str
    custodian: str
    created_at: datetime
    ingest_index: int | None


class IngestOut(BaseModel):
    artifact: ArtifactOut
    receipt: dict[str, Any]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: SingleLine = Field(min_length=1, max_length=64)
    reason: MultiLine = Field(min_length=1, max_length=2000)


class AnnotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: MultiLine = Field(min_length=1, max_length=20_000)


class ChainEntry(BaseModel):
    index: int
    leaf_hash: str
    event: dict[str, Any]
