from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.artifacts.schemas import ArtifactOut


class CollectedItemOut(BaseModel):
    artifact: str
    file_name: str
    source_path: str | None
    sha256: str
    #: every hash the collector recorded matched (None: it recorded none)
    matches: bool | None
    #: a collector row names the file
    listed: bool


class MismatchOut(BaseModel):
    kind: str
    name: str
    artifact: str | None
    algorithm: str | None
    recorded: str | None
    computed: str | None


class CollectionOut(BaseModel):
    collector: str
    container: ArtifactOut
    provenance: list[ArtifactOut]
    items: list[CollectedItemOut]
    mismatches: list[MismatchOut]
    receipt: dict[str, Any]
