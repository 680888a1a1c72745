"""Artifact events: ingest (the row it creates), access, custody transfer, annotation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlmodel import Session

from app.artifacts.metadata import DESCRIPTION_FIELDS
from app.artifacts.models import Artifact
from app.events.catalogue import Body, EventSpec, EventType, declare, parse_time
from app.events.phrases import Names
from app.events.text import short, size
from verify.events import Event


class RetentionBody(Body):
    mode: str
    until: str


class CollectorSignature(Body):
    signature: str
    public_key: str


class _Ingest(Body):
    artifact: str
    file_name: str
    media_type: str
    size: int
    sha256: str
    sha1: str
    md5: str
    object_key: str
    source_host: str | None
    collection_method: str | None
    collection_tool: str | None
    notes: str
    retention: RetentionBody
    collector_signature: CollectorSignature | None = None


class IngestV1(_Ingest):
    deduplicated: bool
    collected_at: str | None


class IngestV2(_Ingest):
    """v2: `occurred_at` is the collection time as told (was `collected_at`), and no
    `deduplicated`: whether other cases hold the same bytes is not this case's fact."""

    occurred_at: str | None


class IngestV3(IngestV2):
    """v3: what a court's custody form asks of each item beyond the bytes, each optional
    (absent when untold): the device's make, model and serial number, the seal or evidence
    tag numbers, who collected it (when not the uploader), where, and the tool's version."""

    device_make: str | None = None
    device_model: str | None = None
    device_serial: str | None = None
    seals: list[str] | None = None
    collected_by: str | None = None
    collection_place: str | None = None
    tool_version: str | None = None


class Access(Body):
    reason: str
    sha256: str
    range: list[int] | None = None


class Party(Body):
    id: str
    role: str | None = None


class Transfer(Body):
    from_: Party = Field(alias="from")
    to: Party
    reason: str


class TransferV2(Transfer):
    """v2: `sha256` of the stored bytes, re-read and re-hashed at the hand-over, so each
    transfer point states the hash verified at that very step (not only at ingest)."""

    sha256: str


class Annotation(Body):
    text: str


def collected_at(ev: Event) -> datetime | None:
    b = ev.body
    return parse_time(b.get("occurred_at") if "v" in b else b.get("collected_at"))


def item_description(body: Mapping[str, Any]) -> dict[str, Any]:
    """The item's description as the ingest event (v3) tells it; earlier bodies tell none."""
    out: dict[str, Any] = {}
    for name in DESCRIPTION_FIELDS:
        value = body.get(name)
        if name == "seals":
            if isinstance(value, list):
                out[name] = [str(x) for x in value]
        elif isinstance(value, str):
            out[name] = value
    return out


def _project_ingest(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    assert ev.case is not None and ev.item is not None
    b = INGEST.parse(ev)
    assert isinstance(b, IngestV1 | IngestV2)  # v3 is a v2 with the item's description
    s.add(
        Artifact(
            id=ev.item,
            case_id=ev.case,
            file_name=b.file_name,
            media_type=b.media_type,
            size=b.size,
            sha256=b.sha256,
            sha1=b.sha1,
            md5=b.md5,
            object_key=b.object_key,
            source_host=b.source_host,
            collection_method=b.collection_method,
            collection_tool=b.collection_tool,
            collected_at=collected_at(ev),
            notes=b.notes or "",
            collector=ev.actor_id,
            custodian=ev.actor_id,
            created_at=ev.at,
            ingest_index=index,
        )
    )
    s.flush()


def _project_transfer(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    assert ev.item is not None
    b = TRANSFER.parse(ev)
    assert isinstance(b, Transfer)
    art = s.get(Artifact, ev.item)
    if art is None:
        raise ValueError(f"transfer of unknown artifact {ev.item}")
    art.custodian = b.to.id
    s.add(art)


def _summary_ingest(ev: Event, names: Names) -> str:
    b = ev.body
    src = f" from {b['source_host']}" if b.get("source_host") else ""
    return (
        f"Collected {b.get('file_name')} ({size(b.get('size'))}, "
        f"SHA-256 {str(b.get('sha256', ''))[:16]}…){src}"
    )


def _summary_access(ev: Event, names: Names) -> str:
    rng = ev.body.get("range")
    part = f" bytes {rng[0]}–{rng[1]}" if isinstance(rng, list) and len(rng) == 2 else ""
    return f"Read {names.artifact(ev.item)}{part}: {short(ev.body.get('reason'))}"


def _summary_transfer(ev: Event, names: Names) -> str:
    b = ev.body
    frm: dict[str, Any] = b["from"] if isinstance(b.get("from"), dict) else {}
    to: dict[str, Any] = b["to"] if isinstance(b.get("to"), dict) else {}
    return (
        f"{frm.get('id')} handed {names.artifact(ev.item)} to {to.get('id')}"
        f": {short(b.get('reason'))}"
        + (f" (SHA-256 re-verified: {str(b['sha256'])[:16]}…)" if b.get("sha256") else "")
    )


INGEST = declare(
    EventSpec(
        EventType.ingest,
        "evidence",
        {1: IngestV1, 2: IngestV2, 3: IngestV3},
        _summary_ingest,
        project=_project_ingest,
        occurred=collected_at,
    )
)
ACCESS = declare(EventSpec(EventType.access, "access", {1: Access}, _summary_access))
TRANSFER = declare(
    EventSpec(
        EventType.transfer,
        "transfer",
        {1: Transfer, 2: TransferV2},
        _summary_transfer,
        project=_project_transfer,
    )
)
ANNOTATION = declare(
    EventSpec(
        EventType.annotation,
        "note",
        {1: Annotation},
        lambda ev, names: f"Note on {names.artifact(ev.item)}: {short(ev.body.get('text'))}",
    )
)
