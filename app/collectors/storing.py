"""What every kind of collection does with one file: store it through the one ingest
flow, name it, describe it, and submit its collector events to be sealed together."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from app.artifacts.ingest import Ingest
from app.artifacts.metadata import ArtifactMeta, clean_file_name
from app.artifacts.models import Artifact
from app.auth.models import Principal
from app.collectors.errors import MalformedCollection
from app.collectors.items import Mismatch
from app.collectors.pipeline import sealed, submit
from app.collectors.plan import CollectionPlan
from app.errors import AppError
from app.events import EventType, draft
from app.events.collector_events import Collector
from app.vault import Vault
from custody.ledger import EventDraft, Receipt
from storage.base import StoredObject

READ = 1 << 20


@dataclass(frozen=True)
class Staged:
    """The container as received, on local disk, with the SHA-256 taken on the way in."""

    path: Path
    name: str
    sha256: str
    size: int


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(READ):
            yield block


def store_one(
    vault: Vault,
    who: Principal,
    case_id: str,
    meta: ArtifactMeta,
    chunks: Iterable[bytes],
    artifact_id: str | None = None,
) -> tuple[Artifact, Receipt, StoredObject]:
    ingest = Ingest.begin(vault, who, case_id, meta, None, max_size=vault.settings.max_upload_bytes)
    try:
        for chunk in chunks:
            ingest.upload.write(chunk)
        stored = ingest.commit()
    finally:
        ingest.abort()  # a no-op after commit
    art, receipt = ingest.seal(artifact_id)
    return art, receipt, stored


def name_for(*candidates: str | None) -> str:
    """The artifact's file name: the endpoint's own name where it is a usable one."""
    for c in candidates:
        if not c:
            continue
        base = c.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        try:
            return clean_file_name(base[:255])
        except AppError:
            continue
    return "collected-item"


def meta_for(
    plan: CollectionPlan, file_name: str, when: datetime | None, media_type: str
) -> ArtifactMeta:
    if when is not None and when > datetime.now(UTC):
        when = None  # a collector clock ahead of ours: told, but not as the fact's time
    try:
        return ArtifactMeta(
            file_name=file_name,
            media_type=media_type,
            source_host=plan.source_host,
            collection_method=plan.method,
            collection_tool=plan.tool,
            collected_at=when,
        )
    except ValidationError as exc:
        raise MalformedCollection(f"collector metadata for {file_name!r}: {exc}") from exc


def mismatch_draft(
    who: Principal, case_id: str, collector: Collector, container: str | None, m: Mismatch
) -> EventDraft:
    assert m.artifact or container
    return draft(
        who.id,
        who.role,
        EventType.collector_mismatch,
        m.body(collector, container),
        case=case_id,
        item=m.artifact or container,
    )


def seal_all(vault: Vault, drafts: list[EventDraft]) -> list[Receipt]:
    """Submit every draft, then wait once: they share seals."""
    futures = [submit(vault, d) for d in drafts]
    return [sealed(f) for f in futures]
