"""Appendix C of the PDF: each certificate's validity window and the renewal covering it.

A court reading the report years on needs to see why a time-stamp whose certificate has
expired still counts: the archive timestamp that renewed it while it was valid, who made
that renewal (an independent TSA, or the vault itself) and until when it holds.
"""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Paragraph
from reportlab.platypus.flowables import Flowable

from app.reports.models import CaseReport, CertificateInfo
from app.reports.pdf_style import Styles, esc, grid, utc


def _cover(c: CertificateInfo) -> str:
    cover = c.covered_by
    if cover is None:
        return f"not renewed yet: renew before {c.not_after:%Y-%m-%d}"
    who = "the vault itself (no independent proof)" if cover.self_operated else cover.tsa
    seqs = ", ".join(str(s) for s in cover.renewals)
    return (
        f"renewal {esc(seqs)} since {cover.renewed_at:%Y-%m-%d}, newest by {esc(who)}; "
        f"holds until {cover.valid_until:%Y-%m-%d}"
    )


def renewals_appendix(st: Styles, r: CaseReport) -> list[Flowable]:
    certs = list(r.vault.certificates)
    if r.vault.report_signer is not None:
        certs = list(r.vault.report_signer.certificates) + certs
    out: list[Flowable] = [
        Paragraph("Appendix C. Key expiry and renewal", st.h1),
        Paragraph(
            "A time-stamp proves its time while its TSA certificate is valid. Before that "
            "certificate expires the vault re-time-stamps the tokens (`locard renew`, an "
            "archive timestamp chain in the spirit of RFC 4998), so the evidence still "
            "verifies after the expiry through its renewal. A renewal by the vault's own TSA "
            "keeps the evidence readable but adds no independent proof.",
            st.body,
        ),
    ]
    head = ["Certificate", "Valid from", "Valid until", "Covered by"]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in head]]
    for c in certs:
        rows.append(
            [
                Paragraph(esc(c.role), st.small_bold),
                Paragraph(utc(c.not_before), st.small),
                Paragraph(utc(c.not_after), st.small),
                Paragraph(_cover(c), st.small),
            ]
        )
    out.append(grid(rows, [40 * mm, 30 * mm, 30 * mm, 74 * mm]))
    if r.vault.renewals:
        rows = [[Paragraph(h, st.cell_head) for h in ("Renewal", "Made", "By", "Holds until")]]
        for n in r.vault.renewals:
            by = f"{n.tsa} (the vault itself)" if n.self_operated else f"{n.tsa} (external)"
            rows.append(
                [
                    Paragraph(f"{n.seq} ({n.tokens} token(s))", st.small),
                    Paragraph(utc(n.at), st.small),
                    Paragraph(esc(by), st.small),
                    Paragraph(utc(n.valid_until), st.small),
                ]
            )
        out.append(grid(rows, [40 * mm, 40 * mm, 54 * mm, 40 * mm]))
    return out
