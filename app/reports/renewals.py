"""Which renewal covers which certificate: key expiry and rotation as a report states them.

A certificate in the report (the TSA's, its CAs') is covered when the case's checkpoint
tokens signed under it have been re-timestamped (`locard renew`): the report names the
archive timestamp chain, who made its newest link (the vault itself, or an external TSA)
and until when that link keeps the evidence valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from cryptography import x509

from app.reports.gather import cert_info
from app.reports.models import CertificateInfo, RenewalCover, RenewalSummary, VaultInfo
from custody.reader import CheckpointRecord
from custody.renewal import RenewalIndex, read_renewals
from storage.base import ObjectStore
from verify.renewal import chain_expiry
from verify.timestamp import load_pem_or_der_certs


def with_renewals(
    info: VaultInfo, store: ObjectStore, checkpoints: Iterable[CheckpointRecord]
) -> VaultInfo:
    renewals = read_renewals(store)
    if not renewals:
        return info
    index = RenewalIndex(renewals)
    by_seq = {r.seq: r for r in renewals}
    covers: dict[str, RenewalCover] = {}
    seen: dict[str, tuple[str, bytes]] = {}
    for cp in checkpoints:
        for t in cp.tokens:
            record = index.record(t.tsr_der)
            if record is None:
                continue
            first, last = by_seq[record.renewals[0].seq], by_seq[record.renewals[-1].seq]
            cover = RenewalCover(
                renewals=[s.seq for s in record.renewals],
                renewed_at=first.gen_time,
                tsa=last.tsa,
                self_operated=last.self_operated,
                valid_until=chain_expiry(last.chain),
            )
            chain = load_pem_or_der_certs(t.chain_pem.encode())
            for i, der in enumerate(chain):
                sha = hashlib.sha256(der).hexdigest()
                covers.setdefault(sha, cover)
                kind = "" if i == 0 else " root" if i == len(chain) - 1 else " CA"
                role = f"TSA {t.tsa}{kind}"
                seen.setdefault(sha, (role, der))
    listed = {c.sha256 for c in info.certificates}
    # A TSA no longer configured (or one whose certificate was replaced) still dates this
    # case's older checkpoints: its certificates are listed with the renewal that carries them.
    retired = [
        cert_info(f"{role} (earlier tokens)", x509.load_der_x509_certificate(der))
        for sha, (role, der) in seen.items()
        if sha not in listed and sha in covers
    ]
    return info.model_copy(
        update={
            "certificates": [_covered(c, covers) for c in [*info.certificates, *retired]],
            "renewals": [
                RenewalSummary(
                    seq=r.seq,
                    tsa=r.tsa,
                    self_operated=r.self_operated,
                    at=r.gen_time,
                    tokens=len(r.leaves),
                    valid_until=r.expires,
                )
                for r in renewals
            ],
        }
    )


def _covered(c: CertificateInfo, covers: dict[str, RenewalCover]) -> CertificateInfo:
    cover = covers.get(c.sha256)
    return c if cover is None else c.model_copy(update={"covered_by": cover})
