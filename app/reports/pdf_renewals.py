"""Appendix C of the PDF: each certificate's validity window and the renewal covering it.

A court reading the report years on needs to see why a time-stamp whose certificate has
expired still counts: the archive timestamp that renewed it while it was valid, who made
that renewal (an independent TSA, or the vault itself) and until when it holds.
"""

from __future__ import annotations

from app.reports.models import CaseReport, CertificateInfo
from app.reports.sections import Section


def cover(c: CertificateInfo) -> str:
    """The renewal that keeps a certificate's time-stamps provable after it expires."""
    renewal = c.covered_by
    if renewal is None:
        return f"not renewed yet: renew before {c.not_after:%Y-%m-%d}"
    who = "the vault itself (no independent proof)" if renewal.self_operated else renewal.tsa
    seqs = ", ".join(str(s) for s in renewal.renewals)
    return (
        f"renewal {seqs} since {renewal.renewed_at:%Y-%m-%d}, newest by {who}; "
        f"holds until {renewal.valid_until:%Y-%m-%d}"
    )


def renewals_appendix(r: CaseReport) -> Section:
    certs = list(r.vault.certificates)
    if r.vault.report_signer is not None:
        certs = list(r.vault.report_signer.certificates) + certs
    return Section("appendix_renewals.html", {"covers": [(c, cover(c)) for c in certs]})
