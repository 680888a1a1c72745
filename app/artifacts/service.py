"""Artifacts: recording an ingest once the bytes are safely stored, reading them back with
an access event, custody transfers and annotations. Every touch is a custody event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from app.artifacts.lookup import cached_artifact, readable_artifact, remembered_artifact
from app.artifacts.metadata import DESCRIPTION_FIELDS, ArtifactMeta
from app.artifacts.models import Artifact
from app.auth.models import Principal, Role
from app.auth.service import get_principal
from app.cases.models import Case
from app.cases.service import get_case, is_member, readable_case, writable_case
from app.db import session
from app.errors import BadRequest, EvidenceDamaged, Forbidden, NotFound
from app.events import EventType, draft, record, submit
from app.events.artifact_events import (
    Access,
    Annotation,
    CollectorSignature,
    IngestV3,
    Party,
    RetentionBody,
    TransferV2,
)
from app.events.catalogue import iso
from app.events.preconditions import ArtifactAbsent, CaseExists, CustodianIs, MemberOf
from app.vault import Vault
from custody.ledger import EventDraft, Receipt
from storage.base import Retention, StoredObject
from verify.artifacts import compare_hashes, hash_chunks
from verify.errors import VerificationError
from verify.manifest import verify_manifest_signature


@dataclass(frozen=True)
class IngestPlan:
    case: Case
    meta: ArtifactMeta
    retention: Retention
    signature: dict[str, str] | None


def plan_ingest(
    vault: Vault, who: Principal, case_id: str, meta: ArtifactMeta, signature: str | None
) -> IngestPlan:
    """Everything that can refuse an upload, checked before the first byte is read."""
    case = writable_case(vault.engine, case_id, who)
    signed: dict[str, str] | None = None
    if signature is not None:
        if who.public_key is None:
            raise BadRequest("a manifest signature was sent but no public key is registered")
        if meta.sha256 is None:
            raise BadRequest("a signed manifest needs the declared sha256")
        try:
            verify_manifest_signature(
                case.id, meta.file_name, meta.sha256, signature, who.public_key
            )
        except VerificationError as exc:
            raise BadRequest(f"manifest signature refused: {exc}") from exc
        signed = {"signature": signature, "public_key": who.public_key}
    until = datetime.now(UTC) + timedelta(days=case.retention_days)
    return IngestPlan(case, meta, Retention("COMPLIANCE", until), signed)


def new_artifact_id() -> str:
    return "art-" + uuid.uuid4().hex[:20]


def ingest_draft(
    who: Principal, plan: IngestPlan, stored: StoredObject, artifact_id: str | None = None
) -> EventDraft:
    """The ingest event of stored bytes, not yet sealed: its projection is the artifact
    row. A collection submits thousands of these and waits once for their seal."""
    d = stored.digests
    meta = plan.meta
    # The item's description: only what was told, so an untold field is absent, not null.
    described = {
        k: v for k, v in meta.model_dump(include=set(DESCRIPTION_FIELDS)).items() if v is not None
    }
    body = IngestV3(
        artifact=artifact_id or new_artifact_id(),
        file_name=meta.file_name,
        media_type=meta.media_type,
        size=d.size,
        sha256=d.sha256,
        sha1=d.sha1,
        md5=d.md5,
        object_key=stored.key,
        source_host=meta.source_host,
        collection_method=meta.collection_method,
        collection_tool=meta.collection_tool,
        occurred_at=iso(meta.collected_at),
        notes=meta.notes,
        retention=RetentionBody(mode=plan.retention.mode, until=plan.retention.until.isoformat()),
        **described,
    )
    if plan.signature:
        body = body.model_copy(update={"collector_signature": CollectorSignature(**plan.signature)})
    return draft(
        who.id,
        who.role,
        EventType.ingest,
        body,
        case=plan.case.id,
        item=body.artifact,
        preconditions=[CaseExists(plan.case.id), ArtifactAbsent(body.artifact)],
    )


def hold_if_case_held(vault: Vault, case_id: str, keys: list[str]) -> None:
    """Re-read the hold once the artifacts are visible: a hold placed while the bytes were
    streaming did not see these objects (see cases.service.set_hold)."""
    if keys and get_case(vault.engine, case_id).legal_hold:
        for key in keys:
            vault.store.set_legal_hold(key, True)


def record_ingest(
    vault: Vault,
    who: Principal,
    plan: IngestPlan,
    stored: StoredObject,
    artifact_id: str | None = None,
) -> tuple[Artifact, Receipt]:
    """Stored bytes become evidence: the artifact row is the ingest event's projection,
    so it exists exactly when the event is sealed.

    `artifact_id` is one the caller claimed beforehand (a resumable upload records it on
    its session, so that a completion retried after a crash finds what the first sealed).
    """
    d = ingest_draft(who, plan, stored, artifact_id)
    receipt = submit(vault, d)
    with session(vault.engine) as s:
        row = s.get(Artifact, d.item)
        assert row is not None
        s.expunge(row)
    # planning found `who` may write to the case, so may read what it now holds
    vault.access.remember(row, who)
    hold_if_case_held(vault, plan.case.id, [stored.key])
    return row, receipt


def get_artifact(engine: Engine, artifact_id: str, who: Principal) -> Artifact:
    """The artifact `who` may read (404 otherwise: see `lookup.readable_artifact`)."""
    return readable_artifact(engine, artifact_id, who)


def list_artifacts(engine: Engine, case_id: str, who: Principal) -> list[Artifact]:
    readable_case(engine, case_id, who)
    with session(engine) as s:
        rows = list(
            s.exec(
                select(Artifact)
                .where(Artifact.case_id == case_id, col(Artifact.ingest_index).is_not(None))
                .order_by(col(Artifact.created_at))
            ).all()
        )
        for r in rows:
            s.expunge(r)
        return rows


def find_by_sha256(engine: Engine, sha256: str, who: Principal) -> list[Artifact]:
    with session(engine) as s:
        rows = list(
            s.exec(
                select(Artifact).where(
                    Artifact.sha256 == sha256, col(Artifact.ingest_index).is_not(None)
                )
            ).all()
        )
        for r in rows:
            s.expunge(r)
    visible = []
    for r in rows:
        try:
            readable_case(engine, r.case_id, who)
        except NotFound:
            continue
        visible.append(r)
    return visible


def record_access(
    vault: Vault,
    who: Principal,
    art: Artifact,
    reason: str,
    byte_range: tuple[int, int] | None,
) -> Receipt:
    """Reading evidence is itself a custody fact, sealed before the first byte leaves."""
    reason = reason.strip()
    if not reason:
        raise BadRequest("a reason is required to access evidence")
    body = Access(reason=reason, sha256=art.sha256)
    if byte_range is not None:
        body = Access(reason=reason, sha256=art.sha256, range=[byte_range[0], byte_range[1]])
    return record(vault, who, EventType.access, body, case=art.case_id, item=art.id)


def transfer(
    vault: Vault, who: Principal, artifact_id: str, to: str, reason: str
) -> tuple[Artifact, Receipt]:
    """Sealed only if the custodian is still the one read here and the receiver is a
    member of the case: of two racing hand-overs one is sealed, the other gets 409."""
    art = get_artifact(vault.engine, artifact_id, who)
    if who.role == Role.auditor:
        raise Forbidden("auditors do not take part in custody")
    if who.role != Role.admin and art.custodian != who.id:
        raise Forbidden(f"only the current custodian ({art.custodian}) may transfer custody")
    receiver = get_principal(vault.engine, to)
    if receiver.id == art.custodian:
        raise BadRequest(f"{receiver.id} already holds custody")
    if receiver.role == Role.auditor:
        raise BadRequest("custody cannot be transferred to an auditor")
    if not is_member(vault.engine, art.case_id, receiver.id):
        raise BadRequest(
            f"{receiver.id} is not a member of case {art.case_id}; add them to the case first"
        )
    body = TransferV2(
        from_=Party(id=art.custodian),
        to=Party(id=receiver.id, role=receiver.role),
        reason=reason,
        sha256=_rehash(vault, art),
    )
    receipt = record(
        vault,
        who,
        EventType.transfer,
        body,
        case=art.case_id,
        item=art.id,
        preconditions=[CustodianIs(art.id, art.custodian), MemberOf(art.case_id, receiver.id)],
    )
    return get_artifact(vault.engine, art.id, who), receipt


def _rehash(vault: Vault, art: Artifact) -> str:
    """The stored bytes' SHA-256, re-read at a hand-over: custody does not pass on bytes that
    no longer match what was sealed (seconds per GiB, once per hand-over)."""
    actual = hash_chunks(vault.store.open_range(art.object_key))
    recorded = {"sha256": art.sha256, "sha1": art.sha1, "md5": art.md5, "size": art.size}
    try:
        compare_hashes(actual, recorded, art.id)
    except VerificationError as exc:
        raise EvidenceDamaged(f"custody not transferred: {exc}") from exc
    return str(actual["sha256"])


def known_artifact(vault: Vault, who: Principal, artifact_id: str) -> Artifact | None:
    """The artifact from memory if `who` may read it and it was read before; None: call
    `read_artifact`. Shared with other requests: never change it."""
    return cached_artifact(vault.artifacts, vault.access, artifact_id, who)


def read_artifact(vault: Vault, who: Principal, artifact_id: str) -> Artifact:
    """The artifact `who` may read (404 otherwise), remembered for `known_artifact` and
    for writes about it (`vault.access`)."""
    return remembered_artifact(vault.engine, vault.artifacts, vault.access, artifact_id, who)


def artifact_case(vault: Vault, who: Principal, artifact_id: str) -> str:
    return read_artifact(vault, who, artifact_id).case_id


def annotation_draft(who: Principal, case_id: str, artifact_id: str, text: str) -> EventDraft:
    """The annotation event for an artifact of `case_id` that `who` may read (auditors
    may not annotate)."""
    if who.role == Role.auditor:
        raise Forbidden("auditors read; they do not annotate evidence")
    return draft(
        who.id,
        who.role,
        EventType.annotation,
        Annotation(text=text),
        case=case_id,
        item=artifact_id,
    )
