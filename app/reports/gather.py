"""Gathering a case's facts for a report: from the ledger's read API, the case tables and the
event catalogue, shaped into the report model. Nothing here checks anything (see `checks`).

A report is a snapshot at one checkpoint (the *anchor*): the latest when it is built. Only
events inside that tree are gathered, so every fact stated is provable against the anchor,
and events sealed while the report is being built simply belong to the next report.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlmodel import col
from sqlmodel import select as orm_select

from app.artifacts.models import Artifact
from app.db import session
from app.errors import Unavailable
from app.events import EventType, Names, occurred_at, summary
from app.events.artifact_events import item_description
from app.reports.models import (
    Actor,
    Anchor,
    ArtifactReport,
    CertificateInfo,
    CheckpointRef,
    CheckpointToken,
    ContainmentEntry,
    CustodyPeriod,
    EventEntry,
    HandOver,
    HoldEntry,
    ReportSigner,
    TsaInfo,
    TsaTime,
    VaultInfo,
    WitnessCosignature,
)
from app.vault import Vault
from custody.ledger import UnknownEntry
from custody.reader import CheckpointRecord, IndexedEvent
from custody.timestamps import HttpTSA, TimestampAuthority
from custody.tsa_builtin import BuiltinTSA
from verify.checkpoint import Checkpoint
from verify.cosignature import CosignatureVerifier, cosignature_timestamp
from verify.errors import VerificationError
from verify.events import decode_event
from verify.note import parse_note

_SUMMARY_MAX = 1500
HOLD_TYPES = (EventType.hold_set, EventType.hold_released)


@dataclass(frozen=True)
class Gathered:
    """What the vault holds about a case as of the anchor, before any check."""

    anchor_size: int
    artifacts: list[Artifact]
    #: the case's and its items' events inside the anchor's tree, ledger order
    rows: list[IndexedEvent]
    #: every checkpoint that first covered one of `rows`, and the anchor
    checkpoints: dict[int, CheckpointRecord]
    #: names of the configured TSAs the vault does not operate
    external: frozenset[str]
    #: witnesses' cosignature lines on the anchor checkpoint
    cosignatures: tuple[bytes, ...] = ()

    @property
    def anchor(self) -> CheckpointRecord:
        return self.checkpoints[self.anchor_size]

    @property
    def sealed_in(self) -> set[int]:
        return {r.sealed_in for r in self.rows}

    def anchored(self, size: int) -> list[TsaTime]:
        cp = self.checkpoints.get(size)
        return [
            TsaTime(tsa=t.tsa, gen_time=t.gen_time, self_operated=t.tsa not in self.external)
            for t in (cp.tokens if cp else ())
        ]


def gather(vault: Vault, case_id: str) -> Gathered:
    try:
        latest = vault.ledger.checkpoint()
    except UnknownEntry as exc:  # pragma: no cover - a case's creation is itself an event
        raise Unavailable("the ledger is empty") from exc
    # Only what the anchor's tree can prove: an artifact ingested meanwhile waits for the next.
    artifacts = [a for a in _artifacts(vault, case_id) if (a.ingest_index or 0) < latest.size]
    # Every item event names its case, so the case's events are exactly those chains.
    rows = vault.ledger.reader.case_events(case_id, below=latest.size)
    checkpoints = vault.ledger.reader.checkpoints({r.sealed_in for r in rows} | {latest.size})
    external = frozenset(a.name for a in vault.authorities if isinstance(a, HttpTSA))
    return Gathered(latest.size, artifacts, rows, checkpoints, external, tuple(latest.cosignatures))


def _artifacts(vault: Vault, case_id: str) -> list[Artifact]:
    with session(vault.engine) as s:
        rows = list(
            s.exec(
                orm_select(Artifact)
                .where(Artifact.case_id == case_id, col(Artifact.ingest_index).is_not(None))
                .order_by(col(Artifact.ingest_index))
            ).all()
        )
        for r in rows:
            s.expunge(r)
        return rows


def pem_chain(pem: str) -> tuple[bytes, ...]:
    if not pem:
        return ()
    return tuple(
        c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(pem.encode())
    )


def cert_info(role: str, cert: x509.Certificate) -> CertificateInfo:
    return CertificateInfo(
        role=role,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
    )


def _tsa_certificates(a: TimestampAuthority) -> list[CertificateInfo]:
    """The TSA's chain as far as the vault holds it: all of it for the built-in TSA, the
    pinned roots for an external one (its own certificate comes in each token)."""
    out = []
    if isinstance(a, BuiltinTSA):
        out.append(cert_info(f"TSA {a.name}", x509.load_der_x509_certificate(a.cert_der)))
        out += [
            cert_info(f"TSA {a.name} issuing CA", x509.load_der_x509_certificate(c))
            for c in a.intermediates_der
        ]
    out += [
        cert_info(f"TSA {a.name} root", x509.load_der_x509_certificate(r)) for r in a.trust_roots()
    ]
    return out


def vault_info(vault: Vault, signer: ReportSigner | None) -> VaultInfo:
    tsas = []
    certificates: list[CertificateInfo] = []
    for a in vault.authorities:
        certificates += _tsa_certificates(a)
        roots = [x509.load_der_x509_certificate(r) for r in a.trust_roots()]
        tsas.append(
            TsaInfo(
                name=a.name,
                kind="built-in" if isinstance(a, BuiltinTSA) else "external",
                self_operated=not isinstance(a, HttpTSA),
                url=a.url if isinstance(a, HttpTSA) else None,
                roots_pem=[r.public_bytes(Encoding.PEM).decode() for r in roots],
                root_sha256=[
                    hashlib.sha256(r.public_bytes(Encoding.DER)).hexdigest() for r in roots
                ],
            )
        )
    return VaultInfo(
        origin=vault.ledger.origin,
        log_key=vault.ledger.log_key,
        tsas=tsas,
        report_signer=signer,
        certificates=certificates,
    )


def witness_verifiers(vault: Vault) -> list[CosignatureVerifier]:
    return [CosignatureVerifier.from_vkey(w.vkey) for w in vault.settings.witnesses]


def _cosignatures(
    g: Gathered, witnesses: list[CosignatureVerifier]
) -> tuple[list[WitnessCosignature], list[str]]:
    """Who cosigned the anchor (as the lines say; `checks` verifies them) and which
    configured witnesses have not."""
    known = {(w.name, w.key_id): w for w in witnesses}
    out = []
    for line in g.cosignatures:
        sig = parse_note(b"x\n\n" + line).signatures[0]
        w = known.get((sig.name, sig.key_id))
        out.append(
            WitnessCosignature(
                witness=sig.name,
                key_id=sig.key_id.hex(),
                cosigned_at=datetime.fromtimestamp(cosignature_timestamp(sig.signature), UTC),
                vkey=w.vkey() if w else None,
            )
        )
    done = {(c.witness, c.key_id) for c in out}
    pending = [w.name for w in witnesses if (w.name, w.key_id.hex()) not in done]
    return out, pending


def anchor_of(g: Gathered, origin: str, witnesses: list[CosignatureVerifier]) -> Anchor:
    cp = g.anchor
    cosigned, pending = _cosignatures(g, witnesses)
    body = Checkpoint(origin, cp.size, cp.root).body()
    return Anchor(
        origin=origin,
        size=cp.size,
        root=cp.root.hex(),
        created_at=cp.created_at,
        body=body.decode(),
        body_sha256=hashlib.sha256(body).hexdigest(),
        note=cp.note,
        timestamps=[
            CheckpointToken(
                tsa=t.tsa,
                gen_time=t.gen_time,
                self_operated=t.tsa not in g.external,
                token=base64.b64encode(t.tsr_der).decode(),
                chain=[base64.b64encode(c).decode() for c in pem_chain(t.chain_pem)],
            )
            for t in cp.tokens
        ],
        tokens_pending=cp.tokens_pending,
        cosigned_note=cp.note + b"".join(g.cosignatures).decode(),
        cosignatures=cosigned,
        witnesses_pending=pending,
    )


def checkpoint_refs(g: Gathered, origin: str) -> list[CheckpointRef]:
    """Every checkpoint that first covered a fact of the case, ascending."""
    return [
        CheckpointRef(
            size=cp.size,
            root=cp.root.hex(),
            created_at=cp.created_at,
            body_sha256=hashlib.sha256(Checkpoint(origin, cp.size, cp.root).body()).hexdigest(),
            timestamps=g.anchored(cp.size),
            tokens_pending=cp.tokens_pending,
        )
        for size, cp in sorted(g.checkpoints.items())
        if size in g.sealed_in
    ]


@dataclass(frozen=True)
class Entries:
    """The gathered events as report entries, split by what they are about."""

    by_item: dict[str, list[EventEntry]]
    case_events: list[EventEntry]


def entries(g: Gathered) -> Entries:
    by_item: dict[str, list[EventEntry]] = defaultdict(list)
    case_events: list[EventEntry] = []
    names = Names({a.id: a.file_name for a in g.artifacts})
    for row in g.rows:
        e = _entry(row, g.anchored(row.sealed_in), names)
        if e.item is not None:
            by_item[e.item].append(e)
        else:
            case_events.append(e)
    return Entries(dict(by_item), case_events)


def _entry(row: IndexedEvent, anchored: list[TsaTime], names: Names) -> EventEntry:
    try:
        ev = decode_event(row.canonical)
    except VerificationError as exc:
        # Damaged bytes still get a line (from the index), and fail "event encoding".
        return EventEntry(
            index=row.index,
            leaf_hash=row.leaf_hash.hex(),
            type="unreadable",
            at=row.at,
            occurred_at=row.at,
            actor=Actor(id=row.actor_id, role="unknown"),
            item=row.item,
            summary=f"UNREADABLE EVENT: {exc}",
            body={},
            sealed_in=row.sealed_in,
            anchored=anchored,
        )
    return EventEntry(
        index=row.index,
        leaf_hash=row.leaf_hash.hex(),
        type=ev.type,
        at=ev.at,
        occurred_at=occurred_at(ev),
        actor=Actor(id=ev.actor_id, role=ev.actor_role),
        item=ev.item,
        summary=_clip(summary(ev, names)),
        body=ev.body,
        sealed_in=row.sealed_in,
        anchored=anchored,
    )


def _clip(text: str) -> str:
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"


def _party(value: object, fallback_role: str = "unknown") -> Actor:
    p = value if isinstance(value, dict) else {}
    return Actor(id=str(p.get("id", "?")), role=str(p.get("role") or fallback_role))


def _hand_over(e: EventEntry, acquisition: str, roles: dict[str, str]) -> HandOver:
    verified = e.body.get("sha256")
    # Transfer bodies name the releaser without a role; the item's own events state it.
    releaser = _party(e.body.get("from"))
    return HandOver(
        index=e.index,
        at=e.at,
        releaser=Actor(id=releaser.id, role=roles.get(releaser.id, releaser.role)),
        receiver=_party(e.body.get("to")),
        recorded_by=e.actor,
        purpose=str(e.body.get("reason", "")),
        sha256_verified=verified if isinstance(verified, str) else None,
        matches_acquisition=verified == acquisition if isinstance(verified, str) else None,
        sealed_in=e.sealed_in,
        anchored=e.anchored,
    )


def artifact_report(art: Artifact, events: list[EventEntry]) -> ArtifactReport:
    custody: list[CustodyPeriod] = []
    ingest = next((e for e in events if e.type == EventType.ingest), None)
    # When the collector took the item, as told in the ingest event (the catalogue's
    # occurred_at), not when it reached the vault.
    collected = ingest.occurred_at if ingest and ingest.occurred_at != ingest.at else None
    collected = collected or (aware(art.collected_at) if art.collected_at else None)
    roles = {e.actor.id: e.actor.role for e in events}
    roles.update(
        {
            _party(e.body.get("to")).id: _party(e.body.get("to")).role
            for e in events
            if e.type == EventType.transfer
        }
    )
    for e in events:
        holder: str | None = None
        since = e.at
        if e.type == EventType.ingest:
            holder = e.actor.id
            # custody starts when the collector took the item, as told, not at upload
            since = collected or e.at
        elif e.type == EventType.transfer:
            holder = str((e.body.get("to") or {}).get("id", "?"))
        if holder is None:
            continue
        if custody:
            custody[-1].until = e.at
        custody.append(CustodyPeriod(holder=holder, since=since, until=None, started_by=e.index))
    assert art.ingest_index is not None  # gather selects ingested rows only
    told = item_description(ingest.body if ingest else {})
    return ArtifactReport(
        id=art.id,
        file_name=art.file_name,
        media_type=art.media_type,
        size=art.size,
        sha256=art.sha256,
        sha1=art.sha1,
        md5=art.md5,
        source_host=art.source_host,
        collection_method=art.collection_method,
        collection_tool=art.collection_tool,
        collected_at=collected,
        **told,
        notes=art.notes,
        collector=art.collector,
        # The holder as of the anchor, from the ledger; the row may already know a later one.
        custodian=custody[-1].holder if custody else art.custodian,
        ingested_at=aware(art.created_at),
        ingest_index=art.ingest_index,
        custody=custody,
        hand_overs=[
            _hand_over(e, art.sha256, roles) for e in events if e.type == EventType.transfer
        ],
        events=events,
    )


def containment(e: EventEntry) -> ContainmentEntry:
    b = e.body
    return ContainmentEntry(
        index=e.index,
        recorded_at=e.at,
        recorded_by=e.actor,
        action=str(b.get("action", "")),
        target=str(b.get("target", "")),
        performed_by=str(b.get("performed_by") or e.actor.id),
        performed_at=str(b.get("occurred_at") or b.get("performed_at") or e.at.isoformat()),
        outcome=str(b.get("outcome", "")),
        ticket=b.get("ticket"),
        details=str(b.get("details", "")),
        sealed_in=e.sealed_in,
        anchored=e.anchored,
    )


def hold(e: EventEntry) -> HoldEntry:
    return HoldEntry(
        index=e.index,
        at=e.at,
        by=e.actor,
        on=e.type == EventType.hold_set,
        reason=str(e.body.get("reason", "")),
        objects=int(e.body.get("objects", 0)),
        sealed_in=e.sealed_in,
        anchored=e.anchored,
    )


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
