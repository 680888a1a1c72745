"""Custody reports: gather a case's facts from the ledger, check them, issue them as events.

A report is a snapshot at one checkpoint (the *anchor*): the latest when it is built. Only
events inside that tree are reported, so every fact stated is provable against the anchor,
and events sealed while the report is being built simply belong to the next report.

Issuing any form of a report (JSON, PDF, JSON-LD) is itself a custody event,
`report.issued`, sealed before the bytes are handed out and carrying their SHA-256, so a
court can ask the ledger whether a document in front of it is one the vault issued.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Engine
from sqlmodel import col
from sqlmodel import select as orm_select

from app.artifacts.models import Artifact
from app.auth.models import Principal, Role
from app.cases.service import readable_case
from app.db import session
from app.errors import Forbidden, Unavailable
from app.events import EventType, record, summary
from app.events.incident_events import ReportIssued
from app.reports.models import (
    Actor,
    Anchor,
    ArtifactReport,
    CaseReport,
    CaseSummary,
    Check,
    CheckpointRef,
    CheckpointToken,
    Command,
    ContainmentEntry,
    CustodyPeriod,
    EventEntry,
    HoldEntry,
    ReportSigner,
    TsaInfo,
    TsaTime,
    VaultInfo,
)
from app.vault import Vault
from custody.ledger import Receipt, UnknownEntry
from custody.reader import IndexedEvent, LedgerReader
from custody.timestamps import HttpTSA
from custody.tsa_builtin import BuiltinTSA
from verify.chains import ChainWalk
from verify.checkpoint import Checkpoint
from verify.errors import VerificationError
from verify.events import decode_event
from verify.merkle import leaf_hash, verify_consistency, verify_inclusion
from verify.note import NoteVerifier, verify_checkpoint_note
from verify.timestamp import verify_timestamp

REPORT_ROLES = frozenset({Role.legal.value, Role.auditor.value, Role.admin.value})
ReportFormat = Literal["json", "pdf", "jsonld"]

# Keeps IN (...) lists well below every database's bound-parameter limit.
_IN_CHUNK = 500
_SUMMARY_MAX = 1500


@dataclass(frozen=True)
class IssuedReport:
    content: bytes
    media_type: str
    filename: str
    sha256: str
    report: CaseReport
    receipt: Receipt


# -- gathering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checkpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime
    tokens_pending: int
    tokens: tuple[tuple[str, bytes, datetime, tuple[bytes, ...]], ...]  # tsa, tsr, genTime, chain


def build_report(
    vault: Vault, who: Principal, case_id: str, *, signer: ReportSigner | None = None
) -> CaseReport:
    """Everything the vault can prove about a case, checked, as of the latest checkpoint."""
    if who.role not in REPORT_ROLES:
        raise Forbidden(f"role {who.role!r} may not issue custody reports")
    case = readable_case(vault.engine, case_id, who)
    try:
        latest = vault.ledger.checkpoint()
    except UnknownEntry as exc:  # pragma: no cover - a case's creation is itself an event
        raise Unavailable("the ledger is empty") from exc
    # Only what the anchor's tree can prove: an artifact ingested meanwhile waits for the next.
    artifacts = [
        a for a in _artifacts(vault.engine, case_id) if (a.ingest_index or 0) < latest.size
    ]
    rows = _rows(vault.engine, case_id, [a.id for a in artifacts], latest.size)
    checkpoints = _checkpoints(vault.engine, {r.sealed_in for r in rows} | {latest.size})
    external = {a.name for a in vault.authorities if isinstance(a, HttpTSA)}

    def anchored(size: int) -> list[TsaTime]:
        cp = checkpoints.get(size)
        return [
            TsaTime(tsa=t[0], gen_time=t[2], self_operated=t[0] not in external)
            for t in (cp.tokens if cp else ())
        ]

    entries = [_entry(r, anchored(r.sealed_in)) for r in rows]
    by_item: dict[str, list[EventEntry]] = defaultdict(list)
    case_events: list[EventEntry] = []
    for e in entries:
        if e.item is not None:
            by_item[e.item].append(e)
        else:
            case_events.append(e)

    anchor_cp = checkpoints[latest.size]
    origin = vault.ledger.origin
    body = Checkpoint(origin, anchor_cp.size, anchor_cp.root).body()
    anchor = Anchor(
        origin=origin,
        size=anchor_cp.size,
        root=anchor_cp.root.hex(),
        created_at=anchor_cp.created_at,
        body=body.decode(),
        body_sha256=hashlib.sha256(body).hexdigest(),
        note=anchor_cp.note,
        timestamps=[
            CheckpointToken(
                tsa=name,
                gen_time=gen,
                self_operated=name not in external,
                token=base64.b64encode(tsr).decode(),
                chain=[base64.b64encode(c).decode() for c in chain],
            )
            for name, tsr, gen, chain in anchor_cp.tokens
        ],
        tokens_pending=anchor_cp.tokens_pending,
    )
    vault_info = _vault_info(vault, signer)
    report_artifacts = [_artifact(a, by_item.get(a.id, [])) for a in artifacts]
    checks = _checks(vault, rows, artifacts, by_item, checkpoints, anchor_cp)
    return CaseReport(
        generated_at=datetime.now(UTC),
        generated_by=Actor(id=who.id, role=who.role),
        vault=vault_info,
        case=CaseSummary.model_validate(case, from_attributes=True),
        artifacts=report_artifacts,
        case_events=case_events,
        containment=[_containment(e) for e in case_events if e.type == EventType.containment],
        holds=[
            _hold(e) for e in case_events if e.type in (EventType.hold_set, EventType.hold_released)
        ],
        checkpoints=[
            CheckpointRef(
                size=cp.size,
                root=cp.root.hex(),
                created_at=cp.created_at,
                body_sha256=hashlib.sha256(Checkpoint(origin, cp.size, cp.root).body()).hexdigest(),
                timestamps=anchored(cp.size),
                tokens_pending=cp.tokens_pending,
            )
            for size, cp in sorted(checkpoints.items())
            if size in {r.sealed_in for r in rows}
        ],
        anchor=anchor,
        checks=checks,
        recheck=_commands(case.id, anchor, vault_info, report_artifacts, signer),
        notes=_notes(vault_info, anchor, checkpoints, rows),
    )


def _artifacts(engine: Engine, case_id: str) -> list[Artifact]:
    with session(engine) as s:
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


def _rows(engine: Engine, case_id: str, items: Sequence[str], below: int) -> list[IndexedEvent]:
    """The case's chain and every artifact's chain, inside the anchor's tree, in ledger order.

    Every item event names its case, so the case's events are exactly those chains."""
    return LedgerReader(engine).case_events(case_id, below=below)


def _checkpoints(engine: Engine, sizes: Iterable[int]) -> dict[int, _Checkpoint]:
    return {
        size: _Checkpoint(
            size=c.size,
            root=c.root,
            note=c.note,
            created_at=c.created_at,
            tokens_pending=c.tokens_pending,
            tokens=tuple((t.tsa, t.tsr_der, t.gen_time, _pem_chain(t.chain_pem)) for t in c.tokens),
        )
        for size, c in LedgerReader(engine).checkpoints(sizes).items()
    }


def _vault_info(vault: Vault, signer: ReportSigner | None) -> VaultInfo:
    tsas = []
    for a in vault.authorities:
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
        origin=vault.ledger.origin, log_key=vault.ledger.log_key, tsas=tsas, report_signer=signer
    )


# -- shaping ----------------------------------------------------------------------------------


def _entry(row: IndexedEvent, anchored: list[TsaTime]) -> EventEntry:
    try:
        ev = decode_event(row.canonical)
    except VerificationError as exc:
        # Damaged bytes still get a line (from the index), and fail "event encoding" below.
        return EventEntry(
            index=row.index,
            leaf_hash=row.leaf_hash.hex(),
            type="unreadable",
            at=row.at,
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
        actor=Actor(id=ev.actor_id, role=ev.actor_role),
        item=ev.item,
        summary=_clip(summary(ev)),
        body=ev.body,
        sealed_in=row.sealed_in,
        anchored=anchored,
    )


def _clip(text: str) -> str:
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"


def _artifact(art: Artifact, events: list[EventEntry]) -> ArtifactReport:
    custody: list[CustodyPeriod] = []
    for e in events:
        holder: str | None = None
        since = e.at
        if e.type == EventType.ingest:
            holder = e.actor.id
            # custody starts when the collector took the item, as told, not at upload
            since = art.collected_at or e.at
        elif e.type == EventType.transfer:
            holder = str((e.body.get("to") or {}).get("id", "?"))
        if holder is None:
            continue
        if custody:
            custody[-1].until = e.at
        custody.append(CustodyPeriod(holder=holder, since=since, until=None, started_by=e.index))
    assert art.ingest_index is not None  # _artifacts selects ingested rows only
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
        collected_at=_aware(art.collected_at) if art.collected_at else None,
        notes=art.notes,
        collector=art.collector,
        # The holder as of the anchor, from the ledger; the row may already know a later one.
        custodian=custody[-1].holder if custody else art.custodian,
        ingested_at=_aware(art.created_at),
        ingest_index=art.ingest_index,
        custody=custody,
        events=events,
    )


def _containment(e: EventEntry) -> ContainmentEntry:
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


HOLD_TYPES = (EventType.hold_set, EventType.hold_released)


def _hold(e: EventEntry) -> HoldEntry:
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


# -- checking ---------------------------------------------------------------------------------


def _checks(
    vault: Vault,
    rows: list[IndexedEvent],
    artifacts: list[Artifact],
    by_item: dict[str, list[EventEntry]],
    checkpoints: dict[int, _Checkpoint],
    anchor: _Checkpoint,
) -> list[Check]:
    """Re-derive every claim from the ledger's own bytes, as `verify/` would offline.

    The database is only an index; these checks recompute hashes, proofs and signatures so a
    damaged or edited index shows up as a failed check in the report instead of as a fact.
    """
    checks: list[Check] = []
    origin = vault.ledger.origin

    def run(name: str, fn: Callable[[], str]) -> None:
        try:
            detail = fn()
        except (VerificationError, UnknownEntry, ValueError, KeyError) as exc:
            checks.append(Check(name=name, ok=False, detail=str(exc)))
        else:
            checks.append(Check(name=name, ok=True, detail=str(detail)))

    def encoding() -> str:
        for r in rows:
            ev = decode_event(r.canonical)
            if leaf_hash(r.canonical) != r.leaf_hash:
                raise ValueError(f"event {r.index} does not hash to its stored leaf hash")
            if ev.chain_key != r.chain_key:
                raise ValueError(f"event {r.index} is indexed under the wrong chain")
        return f"{len(rows)} events are RFC 8785 canonical and hash to their leaf hashes"

    def chains() -> str:
        walk = ChainWalk()
        for r in rows:
            walk.follow(r.index, r.chain_key, decode_event(r.canonical).prev, r.leaf_hash)
        return f"{walk.chains} hash chains (case and items) are unbroken from their first event"

    verifier = NoteVerifier.from_vkey(vault.ledger.log_key)

    def signature() -> str:
        cp = verify_checkpoint_note(anchor.note.encode(), verifier, origin=origin)
        if cp.size != anchor.size or cp.root != anchor.root:
            raise ValueError("the signed checkpoint differs from the indexed one")
        return f"checkpoint {anchor.size} of {origin} is signed by the vault's log key"

    def inclusion() -> str:
        for r in rows:
            proof = vault.ledger.inclusion(r.index, anchor.size)
            verify_inclusion(r.leaf_hash, r.index, anchor.size, proof, anchor.root)
        return f"all {len(rows)} events are in the tree of size {anchor.size}"

    def consistency() -> str:
        earlier = sorted({r.sealed_in for r in rows} - {anchor.size})
        for size in earlier:
            cp = checkpoints[size]
            signed = verify_checkpoint_note(cp.note.encode(), verifier, origin=origin)
            if signed.size != size or signed.root != cp.root:
                raise ValueError(f"checkpoint {size}: signed note differs from the index")
            proof = vault.ledger.consistency(size, anchor.size)
            verify_consistency(size, anchor.size, proof, cp.root, anchor.root)
        return (
            f"{len(earlier)} earlier checkpoints that first covered these events are signed "
            f"and are prefixes of checkpoint {anchor.size}"
        )

    roots = {a.name: tuple(a.trust_roots()) for a in vault.authorities}

    def tokens(cps: Sequence[_Checkpoint]) -> str:
        verified = 0
        unpinned: set[str] = set()
        for cp in cps:
            digest = hashlib.sha256(Checkpoint(origin, cp.size, cp.root).body()).digest()
            for name, tsr, gen, chain in cp.tokens:
                pinned = roots.get(name)
                if pinned is None:
                    unpinned.add(name)
                info = verify_timestamp(
                    tsr, digest, roots=pinned or chain[-1:], intermediates=chain
                )
                if info.gen_time != gen:
                    raise ValueError(f"checkpoint {cp.size}: {name} genTime differs from index")
                verified += 1
        note = (
            f" (no longer configured, checked against the stored root: {sorted(unpinned)})"
            if unpinned
            else ""
        )
        noun = "token" if verified == 1 else "tokens"
        return f"{verified} RFC 3161 {noun} verified over their checkpoint digests{note}"

    def anchor_time() -> str:
        if not anchor.tokens:
            raise ValueError(
                f"checkpoint {anchor.size} has no timestamp yet "
                f"({anchor.tokens_pending} pending at the TSA)"
            )
        return tokens([anchor])

    def index() -> str:
        for art in artifacts:
            ingest = next((e for e in by_item.get(art.id, []) if e.type == EventType.ingest), None)
            if ingest is None or ingest.index != art.ingest_index:
                raise ValueError(f"{art.id}: its ingest event is missing from the ledger")
            for field in ("sha256", "sha1", "md5", "size", "file_name"):
                if ingest.body.get(field) != getattr(art, field):
                    raise ValueError(f"{art.id}: {field} differs from its ingest event")
        return f"{len(artifacts)} artifacts' names, sizes and hashes match their ingest events"

    run("event encoding", encoding)
    run("hash chains", chains)
    run("checkpoint signature", signature)
    run("inclusion proofs", inclusion)
    run("checkpoint consistency", consistency)
    run("anchor timestamp", anchor_time)
    run(
        "fact timestamps",
        lambda: tokens([checkpoints[s] for s in sorted({r.sealed_in for r in rows})]),
    )
    run("artifact records", index)
    return checks


# -- re-checking ------------------------------------------------------------------------------


def root_file(tsa: str, self_operated: bool) -> str:
    """The file name the re-check commands give a TSA's root certificate."""
    return "tsa-root.pem" if self_operated else f"{tsa}-root.pem"


def _commands(
    case_id: str,
    anchor: Anchor,
    vault: VaultInfo,
    artifacts: list[ArtifactReport],
    signer: ReportSigner | None,
) -> list[Command]:
    """What a third party runs, with no trust in the vault, to re-check this report.

    `signer` is set for the signed PDF, whose own checks (signature, attachment) are added.
    """
    q = shlex.quote
    document = f"{q(case_id)}-custody-report.{'pdf' if signer else 'json'}"
    auth = '-H "Authorization: Bearer $LOCARD_TOKEN"'
    roots = {t.name: root_file(t.name, t.self_operated) for t in vault.tsas}
    pins = "--trusted-key vault.vkey " + " ".join(
        f"--trusted-tsa-ca {f}" for f in dict.fromkeys(roots.values())
    )
    cmds = [
        Command(
            purpose="Pin the vault's checkpoint key stated in this report",
            command=f"printf '%s\\n' {q(vault.log_key)} > vault.vkey",
        )
    ]
    for info in vault.tsas:
        source = "GET /v1/keys" if info.self_operated else "its operator"
        cmds.append(
            Command(
                purpose=(
                    f"Obtain the root of TSA {info.name} ({source}) and compare its SHA-256 "
                    "fingerprint with the one in this report"
                ),
                command=f"openssl x509 -in {roots[info.name]} -noout -fingerprint -sha256",
            )
        )
    cmds += [
        Command(
            purpose="Fetch the receipt of any event N (leaf index) against the anchor checkpoint",
            command=(
                f'curl -s {auth} "$LOCARD_SERVER/v1/ledger/receipts/N?tree_size={anchor.size}" '
                "> receipt-N.json"
            ),
        ),
        Command(
            purpose=(
                "Verify it offline: event hash, checkpoint signature, inclusion proof, "
                "RFC 3161 tokens"
            ),
            command=f"locard verify receipt-N.json {pins}",
        ),
    ]
    for art in artifacts:
        cmds.append(
            Command(
                purpose=(
                    f"Verify the ingest of {art.id} together with a copy of its bytes "
                    "(SHA-256, SHA-1, MD5 and size)"
                ),
                command=(
                    f"locard verify receipt-{art.ingest_index}.json --artifact "
                    f"{q(art.file_name)} {pins}"
                ),
            )
        )
    bundle = f"{q(case_id)}-bundle.zip"
    cmds += [
        Command(
            purpose=(
                "Or check the whole case at once: export its evidence bundle (proofs only; drop "
                "--no-content to include and re-hash the evidence bytes, which records accesses)"
            ),
            command=f"locard export {q(case_id)} -o {bundle} --no-content",
        ),
        Command(
            purpose=(
                "Verify the bundle offline: every event, chain link, proof, checkpoint and token "
                "(it also holds events sealed after this report)"
            ),
            command=f"locard verify {bundle} {pins}",
        ),
    ]
    cmds.append(
        Command(
            purpose="Recompute the anchor checkpoint's digest (the imprint of its TSA tokens)",
            command=f"printf {q(anchor.body.replace(chr(10), chr(92) + 'n'))} | sha256sum",
        )
    )
    if signer is not None:
        cmds.append(
            Command(
                purpose="Take report.json out of the signed PDF (or fetch it from the vault)",
                command=f"pdfdetach -savefile report.json -o report.json {document}",
            )
        )
    for t in anchor.timestamps:
        tsr = f"checkpoint-{anchor.size}-{t.tsa}.tsr"
        ca = root_file(t.tsa, t.self_operated)
        cmds.append(
            Command(
                purpose=f"Extract the {t.tsa} token of the anchor checkpoint from report.json",
                command=(
                    f"jq -r '.anchor.timestamps[] | select(.tsa == \"{t.tsa}\") | .token' "
                    f"report.json | base64 -d > {tsr}"
                ),
            )
        )
        cmds.append(
            Command(
                purpose=(
                    f"Verify that token with OpenSSL ({t.tsa}, genTime "
                    f"{t.gen_time:%Y-%m-%d %H:%M:%S} UTC)"
                ),
                command=(f"openssl ts -verify -digest {anchor.body_sha256} -in {tsr} -CAfile {ca}"),
            )
        )
    if signer is not None:
        trust = ["tsa-root.pem" if signer.issued_by_tsa_root else "report-signer.pem"]
        ts_root = roots.get(signer.timestamped_by)
        if ts_root and ts_root not in trust:
            trust.append(ts_root)
        cmds.append(
            Command(
                purpose=(
                    "Validate this PDF's PAdES signature and document timestamp "
                    "(pip install pyhanko-cli)"
                ),
                command=(
                    "pyhanko sign validate --pretty-print --trust-replace "
                    + " ".join(f"--trust {t}" for t in trust)
                    + f" {document}"
                ),
            )
        )
    cmds.append(
        Command(
            purpose=(
                "Confirm the vault recorded issuing this document: the SHA-256 must equal the "
                "sha256 of a report.issued event of the case (its leaf index is returned in "
                "the X-Locard-Event-Index header and listed in later reports); verify that "
                "event's receipt as above"
            ),
            command=f"sha256sum {document}",
        )
    )
    return cmds


def _notes(
    vault: VaultInfo, anchor: Anchor, checkpoints: dict[int, _Checkpoint], rows: list[IndexedEvent]
) -> list[str]:
    notes = [
        f"This report states the ledger as of checkpoint {anchor.size}; events sealed later "
        "appear in later reports.",
        "Artifact bytes were not re-read for this report: their hashes come from the ingest "
        "events, computed while the bytes streamed in. Check a copy with `locard verify "
        "--artifact`.",
    ]
    for t in vault.tsas:
        if t.self_operated:
            notes.append(
                f"TSA '{t.name}' is self-operated by the vault: its times attest the vault "
                "operator's own clock, not an independent authority."
            )
    pending = sorted({r.sealed_in for r in rows if checkpoints[r.sealed_in].tokens_pending})
    if pending:
        notes.append(
            f"Checkpoints {pending} still await a token from a TSA that was unavailable; the "
            f"facts they cover are anchored by checkpoint {anchor.size} instead."
        )
    return notes


# -- issuing ----------------------------------------------------------------------------------


def report_json(report: CaseReport) -> bytes:
    return report.model_dump_json(indent=2).encode()


def issue(
    vault: Vault,
    who: Principal,
    report: CaseReport,
    fmt: ReportFormat,
    content: bytes,
    extra: dict[str, Any] | None = None,
) -> Receipt:
    """Record `report.issued` for exactly these bytes; the caller serves them only after."""
    body = ReportIssued(
        format=fmt,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        report_sha256=hashlib.sha256(report_json(report)).hexdigest(),
        checkpoint_size=report.anchor.size,
        generated_at=report.generated_at.isoformat(),
        **(extra or {}),
    )
    return record(vault, who, EventType.report_issued, body, case=report.case.id)


def issue_json(vault: Vault, who: Principal, case_id: str) -> IssuedReport:
    report = build_report(vault, who, case_id)
    content = report_json(report)
    receipt = issue(vault, who, report, "json", content)
    return IssuedReport(
        content,
        "application/json",
        f"{case_id}-custody-report.json",
        hashlib.sha256(content).hexdigest(),
        report,
        receipt,
    )


def issue_pdf(vault: Vault, who: Principal, case_id: str) -> IssuedReport:
    from app.reports.pdf import render_pdf
    from app.reports.signing import (
        ReportSigningError,
        load_or_create_identity,
        report_authority,
        sign_pdf,
    )

    try:
        identity = load_or_create_identity(vault.settings.keys_dir, vault.ledger.origin)
        authority = report_authority(vault.authorities)
    except ReportSigningError as exc:
        raise Unavailable(str(exc)) from exc
    der = identity.cert.public_bytes(Encoding.DER)
    signer = ReportSigner(
        subject=identity.cert.subject.rfc4514_string(),
        certificate_sha256=hashlib.sha256(der).hexdigest(),
        trust_root_sha256=hashlib.sha256(identity.root.public_bytes(Encoding.DER)).hexdigest(),
        issued_by_tsa_root=identity.issued_by_tsa_root,
        timestamped_by=authority.name,
    )
    report = build_report(vault, who, case_id, signer=signer)
    pdf = render_pdf(report)
    try:
        signed = sign_pdf(
            pdf,
            identity,
            authority,
            origin=vault.ledger.origin,
            reason=f"Chain-of-custody report for case {case_id}",
            attachments=[
                (
                    "report.json",
                    report_json(report),
                    "This report as JSON (locard-case-report/1), with the checkpoint tokens",
                )
            ],
        )
    except ReportSigningError as exc:
        raise Unavailable(str(exc)) from exc
    receipt = issue(
        vault,
        who,
        report,
        "pdf",
        signed.pdf,
        {"signer_certificate_sha256": signed.signer_cert_sha256, "tsa": signed.tsa},
    )
    return IssuedReport(
        signed.pdf,
        "application/pdf",
        f"{case_id}-custody-report.pdf",
        hashlib.sha256(signed.pdf).hexdigest(),
        report,
        receipt,
    )


def issue_jsonld(vault: Vault, who: Principal, case_id: str) -> IssuedReport:
    from app.reports.uco import to_jsonld

    report = build_report(vault, who, case_id)
    content = json.dumps(to_jsonld(report), indent=2, ensure_ascii=False).encode()
    receipt = issue(vault, who, report, "jsonld", content)
    return IssuedReport(
        content,
        "application/ld+json",
        f"{case_id}-provenance.jsonld",
        hashlib.sha256(content).hexdigest(),
        report,
        receipt,
    )


# -- helpers ----------------------------------------------------------------------------------


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _pem_chain(pem: str) -> tuple[bytes, ...]:
    if not pem:
        return ()
    return tuple(
        c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(pem.encode())
    )
