"""The report's appendices: the checkpoints and time-stamps every fact rests on (A), and
the commands a third party runs to re-check the report (B). Kept out of the body, which is
written for a court, not a cryptographer."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, PageBreak, Paragraph, Spacer
from reportlab.platypus.flowables import Flowable

from app.reports.models import CaseReport
from app.reports.pdf_style import (
    Styles,
    esc,
    grid,
    kv,
    mono,
    self_operated_note,
    time_cell,
    tsa_times,
    utc,
)


def checkpoints_appendix(st: Styles, r: CaseReport) -> list[Flowable]:
    a = r.anchor
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("Appendix A. Checkpoints and time-stamps", st.h1),
        Paragraph(
            "The ledger is an RFC 9162 Merkle tree. A checkpoint states its size and root hash "
            "and is signed with the vault's Ed25519 key (C2SP signed note); each checkpoint is "
            "also time-stamped (RFC 3161) over the SHA-256 of its body. A fact is anchored by "
            "the first checkpoint whose tree contains it, and every such checkpoint is a prefix "
            "of the anchor checkpoint below.",
            st.body,
        ),
        Paragraph(f"Anchor checkpoint {a.size}", st.h2),
        kv(
            st,
            [
                ("Origin", esc(a.origin)),
                ("Tree size", str(a.size)),
                ("Root hash", mono(st, a.root)),
                ("Body SHA-256", mono(st, a.body_sha256)),
                ("Sealed", utc(a.created_at)),
                ("Signed note", mono(st, a.note.rstrip("\n"))),
            ],
            label=30 * mm,
        ),
    ]
    head = ["TSA", "genTime", "Operated by", "Root certificate SHA-256"]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in head]]
    fingerprints = {t.name: ", ".join(t.root_sha256) for t in r.vault.tsas}
    for t in a.timestamps:
        rows.append(
            [
                Paragraph(esc(t.tsa), st.small_bold),
                Paragraph(utc(t.gen_time), st.small),
                Paragraph("the vault (self-operated)" if t.self_operated else "external", st.small),
                Paragraph(esc(fingerprints.get(t.tsa, "not configured")), st.mono_small),
            ]
        )
    if not a.timestamps:
        rows.append([Paragraph("pending", st.small), "", "", ""])
    out += [Spacer(1, 4), grid(rows, [20 * mm, 36 * mm, 30 * mm, 88 * mm])]
    if a.cosignatures or a.witnesses_pending:
        out.append(Paragraph(f"Witness cosignatures on checkpoint {a.size}", st.h2))
        head = ["Witness", "Cosigned (its clock)", "Verifier key"]
        rows = [[Paragraph(h, st.cell_head) for h in head]]
        for c in a.cosignatures:
            rows.append(
                [
                    Paragraph(esc(c.witness), st.small_bold),
                    Paragraph(utc(c.cosigned_at), st.small),
                    Paragraph(esc(c.vkey or f"not configured (key ID {c.key_id})"), st.mono_small),
                ]
            )
        for name in a.witnesses_pending:
            rows.append([Paragraph(esc(name), st.small_bold), Paragraph("pending", st.small), ""])
        out.append(grid(rows, [40 * mm, 36 * mm, 98 * mm]))
    out.append(Paragraph("Checkpoints that first covered the facts of this case", st.h2))
    head = ["Size", "Root hash", "Sealed (UTC)", "TSA time(s)"]
    rows = [[Paragraph(h, st.cell_head) for h in head]]
    for cp in r.checkpoints:
        rows.append(
            [
                Paragraph(str(cp.size), st.small),
                Paragraph(esc(cp.root), st.mono_small),
                Paragraph(time_cell(cp.created_at), st.small),
                Paragraph(tsa_times(cp.timestamps), st.small),
            ]
        )
    out.append(grid(rows, [12 * mm, 88 * mm, 28 * mm, 46 * mm]))
    out.append(self_operated_note(st, r))
    return out


def commands_appendix(st: Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("Appendix B. How a third party can re-check this report", st.h1),
    ]
    out.append(
        Paragraph(
            "None of these steps trusts the vault: they need the vault's public log key and "
            "the TSA root certificate(s) of section 4, obtained and compared independently. "
            "LOCARD_SERVER and LOCARD_TOKEN are the vault's address and a legal or auditor "
            "token; report.json is this report in JSON form, attached to this PDF "
            f"(also GET /v1/cases/{esc(r.case.id)}/report.json, issued anew).",
            st.body,
        )
    )
    for i, cmd in enumerate(r.recheck, 1):
        out.append(
            KeepTogether(
                [
                    Paragraph(f"{i}. {esc(cmd.purpose)}", st.body),
                    Paragraph(esc(cmd.command), st.command),
                ]
            )
        )
    return out
