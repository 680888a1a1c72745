"""Issuing custody reports: each form (JSON, PDF, JSON-LD) is rendered from one built
report, and issuing it is itself a custody event, `report.issued`, sealed before the bytes are
handed out and carrying their SHA-256, so a court can ask the ledger whether a document in
front of it is one the vault issued.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives.serialization import Encoding

from app.auth.models import Principal
from app.errors import Unavailable
from app.events import EventType, record
from app.events.incident_events import ReportIssued
from app.reports.assemble import build_report
from app.reports.gather import cert_info
from app.reports.models import REPORT_FORMAT, CaseReport, ReportSigner
from app.vault import Vault
from custody import pki
from custody.ledger import Receipt

if TYPE_CHECKING:
    from app.reports.signing import SignedReport, SigningIdentity
    from custody.timestamps import TimestampAuthority

log = logging.getLogger(__name__)

ReportFormat = Literal["json", "pdf", "jsonld"]


@dataclass(frozen=True)
class IssuedReport:
    content: bytes
    media_type: str
    filename: str
    sha256: str
    report: CaseReport
    receipt: Receipt


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
    from app.reports.pdfa import Attachment
    from app.reports.signing import (
        ReportSigningError,
        load_or_create_identity,
        long_term,
        report_authority,
        sign_pdf,
    )

    try:
        identity = load_or_create_identity(
            vault.settings.keys_dir,
            vault.ledger.origin,
            crl_url=pki.crl_urls(vault.settings.public_base_url)[0],
        )
        authority = report_authority(vault.authorities)
        identity, tsa_chain = with_external_revocation(vault, identity, authority)
    except ReportSigningError as exc:
        raise Unavailable(str(exc)) from exc
    der = identity.cert.public_bytes(Encoding.DER)
    signer = ReportSigner(
        subject=identity.cert.subject.rfc4514_string(),
        certificate_sha256=hashlib.sha256(der).hexdigest(),
        trust_root_sha256=hashlib.sha256(identity.root.public_bytes(Encoding.DER)).hexdigest(),
        issued_by_tsa_root=identity.issued_by_tsa_root,
        timestamped_by=authority.name,
        long_term=long_term(identity, authority, tsa_chain),
        certificates=[
            cert_info("report signer", identity.cert),
            *(
                cert_info(
                    "report signer's issuing CA" if i < len(identity.issuers) - 1 else "root CA", c
                )
                for i, c in enumerate(identity.issuers)
            ),
        ],
    )
    report = build_report(vault, who, case_id, signer=signer)
    # Tagged PDF/A-3b with the JSON form attached as its source data, before signing: the
    # signature then covers the attachment.
    pdf = render_pdf(
        report,
        [
            Attachment(
                "report.json",
                report_json(report),
                f"This report as JSON ({REPORT_FORMAT}), with the checkpoint tokens",
                report.generated_at,
            )
        ],
    )
    try:
        signed = sign_pdf(
            pdf,
            identity,
            authority,
            origin=vault.ledger.origin,
            reason=f"Chain-of-custody report for case {case_id}",
            tsa_chain=tsa_chain,
        )
    except ReportSigningError as exc:
        raise Unavailable(str(exc)) from exc
    keep_issued(vault, case_id, signed)
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


def with_external_revocation(
    vault: Vault, identity: SigningIdentity, authority: TimestampAuthority
) -> tuple[SigningIdentity, tuple[bytes, ...]]:
    """An external TSA's chain and its CRLs, fetched once now and archived, added to what
    the signature embeds; the vault's own TSA needs nothing more."""
    from app.reports.revocation import RevocationFetchError, external_crls, known_chain
    from verify.errors import TimestampError

    known = known_chain(vault.ledger, authority.name)
    try:
        chain, crls = external_crls(vault.store, authority, known)
    except (RevocationFetchError, TimestampError) as exc:
        # An unreachable distribution point must not stop a report being issued: it is
        # signed as before this data existed, and says it is not long-term (`long_term`).
        log.warning("revocation data of TSA %s not gathered: %s", authority.name, exc)
        return identity, ()
    if not crls:
        return identity, chain
    return dataclasses.replace(identity, crls=(*identity.crls, *crls)), chain


def keep_issued(vault: Vault, case_id: str, signed: SignedReport) -> None:
    """Version 0 of the report in the write-once store, before `report.issued` is sealed:
    `locard renew` adds archive timestamps to it as new versions."""
    from app.reports.archive import ReportVersion, keep
    from verify.renewal import chain_expiry

    sha = hashlib.sha256(signed.pdf).hexdigest()
    chain = signed.tsa_chain
    expires = chain_expiry(chain) if chain else report_generated_now()
    keep(
        vault.store,
        ReportVersion(case_id, sha, 0, sha, signed.tsa, signed.tsa_self_operated, expires),
        signed.pdf,
    )


def report_generated_now() -> datetime:
    # No chain came back (a time-stamper that does not say): renew at the next pass.
    return datetime.now(UTC)


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
