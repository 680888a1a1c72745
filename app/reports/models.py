"""The custody report as data: what the PDF renders, the JSON serves and the JSON-LD maps.

Every field is read from the ledger or the case tables at issue time; nothing here is
computed from the rendered document, so the JSON is the reference form of a report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, field_validator

#: /2 added: each event's told time (`occurred_at`), hand-overs with the hash re-verified at
#: each, the anchor's witness cosignatures, every certificate's validity window, and
#: whether the PDF validates long-term (`report_signer.long_term`).
#: /3 added per item: the device's make, model and serial, seal/tag numbers, the person who
#: collected it, the place, and the tool's version (ingest v3), each None/empty when untold.
REPORT_FORMAT: Literal["locard-case-report/3"] = "locard-case-report/3"


class Actor(BaseModel):
    id: str
    role: str


class TsaTime(BaseModel):
    """When a TSA says a checkpoint existed (the token's genTime)."""

    tsa: str
    gen_time: datetime
    self_operated: bool


class EventEntry(BaseModel):
    index: int
    leaf_hash: str
    type: str
    #: when it was sealed (the vault's clock)
    at: datetime
    #: when it happened, as the actor told (collection, containment); else `at`
    occurred_at: datetime
    actor: Actor
    item: str | None
    #: one human-readable line; the full body follows for machines
    summary: str
    body: dict[str, Any]
    #: size of the first checkpoint that covers this event
    sealed_in: int
    #: that checkpoint's TSA times; empty while its tokens are pending
    anchored: list[TsaTime]


class CustodyPeriod(BaseModel):
    holder: str
    since: datetime
    until: datetime | None
    #: leaf index of the ingest or transfer that started it
    started_by: int


class HandOver(BaseModel):
    """One custody transfer point: who released the item to whom, when, why, and the hash
    of its stored bytes as re-verified at that step."""

    index: int
    at: datetime
    releaser: Actor
    receiver: Actor
    recorded_by: Actor
    purpose: str
    #: SHA-256 of the stored bytes re-hashed at the hand-over; None for hand-overs recorded
    #: before transfers re-hashed (transfer v1)
    sha256_verified: str | None
    #: that hash equals the acquisition hash sealed at ingest
    matches_acquisition: bool | None
    sealed_in: int
    anchored: list[TsaTime]


class ArtifactReport(BaseModel):
    id: str
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
    #: the device the bytes came from, as the collector told (ingest v3)
    device_make: str | None = None
    device_model: str | None = None
    device_serial: str | None = None
    #: seal or evidence-tag numbers on the item or its container
    seals: list[str] = []
    #: the person who collected the item, when not the one who uploaded it
    collected_by: str | None = None
    #: where it was collected (site, room, address)
    collection_place: str | None = None
    tool_version: str | None = None
    notes: str
    #: who uploaded it (the ingest event's actor)
    collector: str
    custodian: str
    ingested_at: datetime
    ingest_index: int
    custody: list[CustodyPeriod]
    hand_overs: list[HandOver]
    events: list[EventEntry]


class ContainmentEntry(BaseModel):
    index: int
    recorded_at: datetime
    recorded_by: Actor
    action: str
    target: str
    performed_by: str
    performed_at: str
    outcome: str
    ticket: str | None
    details: str
    sealed_in: int
    anchored: list[TsaTime]


class HoldEntry(BaseModel):
    index: int
    at: datetime
    by: Actor
    on: bool
    reason: str
    objects: int
    sealed_in: int
    anchored: list[TsaTime]


class CheckpointRef(BaseModel):
    size: int
    root: str
    created_at: datetime
    #: SHA-256 of the C2SP checkpoint body: the imprint of every TSA token on it
    body_sha256: str
    timestamps: list[TsaTime]
    tokens_pending: int


class CheckpointToken(BaseModel):
    tsa: str
    gen_time: datetime
    self_operated: bool
    #: base64 DER TimeStampResp, exactly as stored (what `openssl ts -verify -in` reads)
    token: str
    #: base64 DER certificates: TSA certificate ... root
    chain: list[str]


class WitnessCosignature(BaseModel):
    """A witness's C2SP tlog-cosignature/v1 on the anchor checkpoint."""

    witness: str
    #: the cosigner key ID (hex), as in the signature line
    key_id: str
    #: when the witness says it cosigned (the cosignature's own timestamp)
    cosigned_at: datetime
    #: the witness's verifier key when the vault is configured with it, else None
    vkey: str | None


class Anchor(BaseModel):
    """The latest checkpoint when the report was built: every fact above is in its tree."""

    origin: str
    size: int
    root: str
    created_at: datetime
    body: str
    body_sha256: str
    #: the C2SP signed note (checkpoint body and Ed25519 signature line)
    note: str
    timestamps: list[CheckpointToken]
    tokens_pending: int
    #: the signed note with every witness cosignature gathered (C2SP signed note)
    cosigned_note: str = ""
    cosignatures: list[WitnessCosignature] = []
    #: configured witnesses (names) that have not cosigned this checkpoint (yet)
    witnesses_pending: list[str] = []


class TsaInfo(BaseModel):
    name: str
    kind: Literal["built-in", "external"]
    self_operated: bool
    url: str | None
    roots_pem: list[str]
    root_sha256: list[str]


class RenewalCover(BaseModel):
    """The archive timestamp chain (`locard renew`) that carries evidence resting on a
    certificate past that certificate's expiry."""

    #: the renewals in the chain, oldest first (`ledger/renewals/<seq>.json`)
    renewals: list[int]
    renewed_at: datetime
    #: the newest renewal's TSA, and whether it is the vault's own (no independent proof)
    tsa: str
    self_operated: bool
    #: when the newest renewal's TSA certificate expires: renew again before then
    valid_until: datetime


class RenewalSummary(BaseModel):
    seq: int
    tsa: str
    self_operated: bool
    at: datetime
    #: how many tokens (checkpoint tokens and earlier renewals) it re-timestamped
    tokens: int
    valid_until: datetime


class CertificateInfo(BaseModel):
    """A certificate the report's trust rests on, with the window it may be relied on in."""

    role: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    sha256: str
    #: the renewal covering the case's checkpoint tokens signed under it (None: not renewed)
    covered_by: RenewalCover | None = None


class ReportSigner(BaseModel):
    subject: str
    certificate_sha256: str
    trust_root_sha256: str
    issued_by_tsa_root: bool
    timestamped_by: str
    #: the PDF embeds revocation data for every certificate of the signer's and the TSA's
    #: chains and a document timestamp: it validates long-term (PAdES B-LTA) offline
    long_term: bool = False
    #: the signer's certificate and its issuers, with their validity windows
    certificates: list[CertificateInfo] = []


class VaultInfo(BaseModel):
    origin: str
    #: C2SP vkey of the checkpoint-signing Ed25519 key
    log_key: str
    tsas: list[TsaInfo]
    report_signer: ReportSigner | None = None
    #: the TSA and report-signer chains, each certificate with its validity window
    certificates: list[CertificateInfo] = []
    #: the renewals (archive timestamps) made so far, oldest first
    renewals: list[RenewalSummary] = []


class CaseSummary(BaseModel):
    id: str
    title: str
    description: str
    severity: str
    status: str
    owner: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    legal_hold: bool
    retention_days: int
    # Incident context (privacy and notification duties), when the vault records it.
    declared_at: datetime | None = None
    personal_data: bool | None = None
    notification_required: bool | None = None
    aware_at: datetime | None = None
    notified_at: datetime | None = None

    @field_validator("created_at", "updated_at", "declared_at", "aware_at", "notified_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        # SQLite hands back naive datetimes; every time in a report is explicitly UTC.
        if v is None:
            return None
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class Command(BaseModel):
    purpose: str
    command: str


class CaseReport(BaseModel):
    format: Literal["locard-case-report/3"] = REPORT_FORMAT
    generated_at: datetime
    generated_by: Actor
    vault: VaultInfo
    case: CaseSummary
    artifacts: list[ArtifactReport]
    case_events: list[EventEntry]
    containment: list[ContainmentEntry]
    holds: list[HoldEntry]
    #: every checkpoint that first covered a fact of this case, ascending
    checkpoints: list[CheckpointRef]
    anchor: Anchor
    checks: list[Check]
    recheck: list[Command]
    notes: list[str]

    @property
    def all_checks_passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)
