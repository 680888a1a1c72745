from __future__ import annotations

from typing import Any, Literal

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
    #: files an earlier, interrupted run of this container had sealed (not ingested again)
    resumed: int = 0
    #: bytes of the files ingested out of the container (resumed ones included)
    bytes: int = 0


class ProgressOut(BaseModel):
    """A collection's progress: live while this server ingests it, else what the ledger
    says (an interrupted run, or the last finished one)."""

    state: Literal["running", "finished", "interrupted"]
    container: str | None
    files_total: int | None
    files_done: int | None
    bytes_total: int | None
    bytes_done: int | None
    resumed: int | None
