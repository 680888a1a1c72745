"""Rendering a `CaseReport` as a readable PDF (reportlab), before it is signed.

Written for a court, not a cryptographer: a title page with the case and the bottom line,
then the evidence items (collection and acquisition), their chain of custody with each
hand-over, containment and holds, verification and trust, and a draft FRE 902(13)/(14)
declaration; checkpoint hashes and re-check commands follow in appendices (`appendix`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, NamedTuple

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
)
from reportlab.platypus.flowables import Flowable

from app.events import EventType
from app.reports.appendix import checkpoints_appendix, commands_appendix
from app.reports.declaration import declaration
from app.reports.models import Anchor, ArtifactReport, CaseReport, CaseSummary, EventEntry
from app.reports.pdf_renewals import renewals_appendix
from app.reports.pdf_style import (
    MARGIN,
    PAGE,
    Styles,
    anchored,
    as_of,
    esc,
    font,
    grid,
    kv,
    mono,
    performed_at,
    self_operated_note,
    time_cell,
    utc,
)

# -- sections -----------------------------------------------------------------------------------


def _incident(c: CaseSummary) -> list[tuple[str, str]]:
    """Privacy and notification facts, shown only when the vault records them."""
    out: list[tuple[str, str]] = []
    if c.declared_at is not None:
        out.append(("Declared", utc(c.declared_at)))
    if c.personal_data is not None:
        out.append(("Personal data", "possibly exposed" if c.personal_data else "not exposed"))
    if c.notification_required is not None:
        out.append(("Notification", "required" if c.notification_required else "not required"))
    if c.aware_at is not None:
        out.append(("Aware of breach", utc(c.aware_at)))
    if c.notified_at is not None:
        out.append(("Notified", utc(c.notified_at)))
    return out


def _witnessed(a: Anchor) -> str:
    """Who cosigned the anchor checkpoint: independent parties that saw this very tree."""
    lines = [
        f"{esc(c.witness)} (key {esc(c.key_id)}), cosigned {utc(c.cosigned_at)}"
        for c in a.cosignatures
    ]
    if a.witnesses_pending:
        lines.append("not (yet) cosigned by " + esc(", ".join(a.witnesses_pending)))
    return "<br/>".join(lines) or "no witness is configured: the checkpoint is not cosigned"


def _title_page(st: Styles, r: CaseReport) -> list[Flowable]:
    c = r.case
    out: list[Flowable] = [
        Paragraph("Chain-of-Custody Report", st.title),
        Paragraph(f"{esc(c.id)} — {esc(c.title)}", st.subtitle),
    ]
    if r.all_checks_passed:
        out.append(
            Paragraph(
                f"All {len(r.checks)} integrity checks passed when this report was issued "
                f"(section 4).",
                st.banner_ok,
            )
        )
    else:
        failed = ", ".join(ch.name for ch in r.checks if not ch.ok)
        out.append(
            Paragraph(f"INTEGRITY CHECKS FAILED: {esc(failed)} (section 4).", st.banner_fail)
        )
    out.append(Spacer(1, 6))
    events = sum(len(a.events) for a in r.artifacts) + len(r.case_events)
    out.append(Paragraph("Case", st.h2))
    out.append(
        kv(
            st,
            [
                ("Case", esc(c.id)),
                ("Title", esc(c.title)),
                ("Severity", esc(c.severity)),
                ("Status", esc(c.status)),
                ("Owner", esc(c.owner)),
                ("Opened", f"{utc(c.created_at)} by {esc(c.created_by)}"),
                ("Last changed", utc(c.updated_at)),
                ("Legal hold", "IN FORCE" if c.legal_hold else "not in force"),
                ("Retention", f"{c.retention_days} days (write-once, COMPLIANCE mode)"),
                *_incident(c),
                ("Evidence items", str(len(r.artifacts))),
                ("Custody events", str(events)),
                ("Containment actions", str(len(r.containment))),
            ],
        )
    )
    if c.description:
        out += [Paragraph("Description", st.h2), Paragraph(esc(c.description), st.body)]
    a = r.anchor
    times = (
        "<br/>".join(
            f"{esc(t.tsa)}: {utc(t.gen_time)}"
            + (" — self-operated TSA (the vault's own clock)" if t.self_operated else "")
            for t in a.timestamps
        )
        or f"pending ({a.tokens_pending} TSA token(s) owed)"
    )
    out.append(Paragraph("This report", st.h2))
    out.append(
        kv(
            st,
            [
                ("Issued", utc(r.generated_at)),
                ("Requested by", f"{esc(r.generated_by.id)} ({esc(r.generated_by.role)})"),
                ("Ledger", esc(a.origin)),
                ("As of", as_of(a) + " — every fact below is in this checkpoint's tree"),
                ("Checkpoint time", times),
                ("Witnessed by", _witnessed(a)),
            ],
        )
    )
    if r.notes:
        out.append(Paragraph("Notes", st.h2))
        out += [Paragraph("• " + esc(n), st.body) for n in r.notes]
    out.append(PageBreak())
    return out


def _evidence(st: Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("1. Evidence items", st.h1)]
    if not r.artifacts:
        out.append(Paragraph("No evidence items were ingested into this case.", st.body))
    for art in r.artifacts:
        block: list[Flowable] = [Paragraph(f"{esc(art.id)} — {esc(art.file_name)}", st.h2)]
        ingest = next((e for e in art.events if e.type == EventType.ingest), None)
        role = f" ({esc(ingest.actor.role)})" if ingest else ""
        acquisition = (
            f"SHA-256 {mono(st, art.sha256)}<br/>SHA-1 {mono(st, art.sha1)}<br/>"
            f"MD5 {mono(st, art.md5)}"
        )
        block.append(
            kv(
                st,
                [
                    ("Item", esc(art.id)),
                    (
                        "Description",
                        f"{esc(art.file_name)} ({esc(art.media_type)}, {art.size:,} bytes)",
                    ),
                    ("Source host", esc(art.source_host or "not stated")),
                    ("Collected by", esc(art.collector) + role),
                    ("Collected at", utc(art.collected_at) if art.collected_at else "not stated"),
                    (
                        "Tool / method",
                        esc(art.collection_tool or "not stated")
                        + (f" / {esc(art.collection_method)}" if art.collection_method else ""),
                    ),
                    ("Acquisition hash", acquisition),
                    (
                        "Received by the vault",
                        f"{utc(art.ingested_at)} (sealed as ledger leaf {art.ingest_index})",
                    ),
                    (f"Custodian as of checkpoint {r.anchor.size}", esc(art.custodian)),
                    ("Notes", esc(art.notes or "—")),
                ],
                label=34 * mm,
            )
        )
        out.append(KeepTogether(block))
    return out


_EVENT_WIDTHS = [10 * mm, 27 * mm, 23 * mm, 22 * mm, 60 * mm, 32 * mm]


def _event_table(st: Styles, events: Sequence[EventEntry]) -> Table:
    head = ["Leaf", "Time (UTC)", "Event", "Actor (role)", "What happened", "Anchored by"]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in head]]
    for e in events:
        rows.append(
            [
                Paragraph(str(e.index), st.small),
                Paragraph(
                    time_cell(e.at)
                    + (f"<br/>told: {time_cell(e.occurred_at)}" if e.occurred_at != e.at else ""),
                    st.small,
                ),
                Paragraph(esc(e.type), st.prose_bold),
                Paragraph(f"{esc(e.actor.id)}<br/>({esc(e.actor.role)})", st.prose),
                Paragraph(esc(e.summary), st.prose),
                Paragraph(anchored(e.sealed_in, e.anchored), st.small),
            ]
        )
    return grid(rows, _EVENT_WIDTHS)


def _hand_overs(st: Styles, art: ArtifactReport) -> list[Flowable]:
    """Each transfer point: releaser, receiver, time, purpose, and the hash re-verified."""
    if not art.hand_overs:
        return []
    head = ["Leaf", "Time (UTC)", "Released by", "Received by", "Purpose", "Hash at hand-over"]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in head]]
    for h in art.hand_overs:
        if h.sha256_verified is None:
            verified = "not re-hashed (recorded before hand-overs re-hashed the bytes)"
        elif h.matches_acquisition:
            verified = f"re-verified, equals the acquisition SHA-256 {mono(st, h.sha256_verified)}"
        else:
            verified = f"DIFFERS from the acquisition hash: {mono(st, h.sha256_verified)}"
        rows.append(
            [
                Paragraph(str(h.index), st.small),
                Paragraph(time_cell(h.at), st.small),
                Paragraph(f"{esc(h.releaser.id)}<br/>({esc(h.releaser.role)})", st.prose),
                Paragraph(f"{esc(h.receiver.id)}<br/>({esc(h.receiver.role)})", st.prose),
                Paragraph(esc(h.purpose), st.prose),
                Paragraph(verified, st.small),
            ]
        )
    table = grid(rows, [10 * mm, 25 * mm, 24 * mm, 24 * mm, 45 * mm, 46 * mm])
    return [Paragraph("Hand-overs", st.h2), table, Spacer(1, 4)]


def _custody(st: Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("2. Chain of custody", st.h1),
        Paragraph(
            f"Who held each item, its hand-overs, and every event about it "
            f"{as_of(r.anchor)}, in ledger order (which is time order). Each event is "
            "hash-linked to the previous one about the same item, and is anchored by the first "
            "signed, timestamped checkpoint whose tree contains it (Appendix A).",
            st.body,
        ),
    ]
    for art in r.artifacts:
        out.append(CondPageBreak(60 * mm))
        out.append(Paragraph(f"{esc(art.id)} — {esc(art.file_name)}", st.h2))
        holders: list[list[Any]] = [
            [Paragraph(h, st.cell_head) for h in ("Held by", "From", "Until", "Started by leaf")]
        ]
        for p in art.custody:
            holders.append(
                [
                    Paragraph(esc(p.holder), st.small_bold),
                    Paragraph(utc(p.since), st.small),
                    Paragraph(utc(p.until) if p.until else as_of(r.anchor), st.small),
                    Paragraph(str(p.started_by), st.small),
                ]
            )
        out.append(grid(holders, [40 * mm, 52 * mm, 52 * mm, 30 * mm]))
        out.append(Spacer(1, 4))
        out += _hand_overs(st, art)
        out.append(_event_table(st, art.events))
    out.append(self_operated_note(st, r))
    return out


def _case_events(st: Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [PageBreak(), Paragraph("3. Containment actions and holds", st.h1)]
    out.append(Paragraph("Containment actions", st.h2))
    if r.containment:
        head = ["Leaf", "Performed at", "Action", "Target", "Outcome", "By", "Ticket / details"]
        rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in head]]
        for c in r.containment:
            details = "<br/>".join(
                x for x in (esc(c.ticket) if c.ticket else "", esc(c.details)) if x
            )
            rows.append(
                [
                    Paragraph(str(c.index), st.small),
                    Paragraph(performed_at(c.performed_at), st.small),
                    Paragraph(esc(c.action), st.prose_bold),
                    Paragraph(esc(c.target), st.prose),
                    Paragraph(esc(c.outcome), st.prose),
                    Paragraph(
                        f"{esc(c.performed_by)}<br/>recorded by {esc(c.recorded_by.id)}",
                        st.small,
                    ),
                    Paragraph(details or "—", st.prose),
                ]
            )
        widths = [10 * mm, 27 * mm, 23 * mm, 30 * mm, 17 * mm, 27 * mm, 40 * mm]
        out.append(grid(rows, widths))
    else:
        out.append(Paragraph("No containment actions were logged.", st.body))
    out.append(Paragraph("Legal holds", st.h2))
    if r.holds:
        rows = [
            [Paragraph(h, st.cell_head) for h in ("Leaf", "Time", "Hold", "By", "Reason", "Items")]
        ]
        for h in r.holds:
            rows.append(
                [
                    Paragraph(str(h.index), st.small),
                    Paragraph(time_cell(h.at), st.small),
                    Paragraph("SET" if h.on else "RELEASED", st.small_bold),
                    Paragraph(f"{esc(h.by.id)} ({esc(h.by.role)})", st.small),
                    Paragraph(esc(h.reason), st.prose),
                    Paragraph(str(h.objects), st.small),
                ]
            )
        out.append(grid(rows, [10 * mm, 27 * mm, 20 * mm, 30 * mm, 73 * mm, 14 * mm]))
    else:
        out.append(Paragraph("No legal hold was ever set on this case.", st.body))
    out.append(Paragraph("All case-level events", st.h2))
    out.append(_event_table(st, r.case_events))
    out.append(self_operated_note(st, r))
    return out


def _certificates(st: Styles, r: CaseReport) -> list[Flowable]:
    """Every certificate the report's signature and time-stamps rest on, with the window in
    which it may be relied on."""
    certs = list(r.vault.certificates)
    if r.vault.report_signer is not None:
        certs = list(r.vault.report_signer.certificates) + certs
    if not certs:
        return []
    head = ["Certificate", "Subject", "Valid from", "Valid until", "SHA-256"]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in head]]
    for c in certs:
        rows.append(
            [
                Paragraph(esc(c.role), st.prose_bold),
                Paragraph(esc(c.subject), st.small),
                Paragraph(f"{c.not_before:%Y-%m-%d %H:%M} UTC", st.small),
                Paragraph(f"{c.not_after:%Y-%m-%d %H:%M} UTC", st.small),
                Paragraph(esc(c.sha256), st.mono_small),
            ]
        )
    table = grid(rows, [30 * mm, 50 * mm, 24 * mm, 24 * mm, 46 * mm])
    return [Paragraph("Certificates and their validity", st.h2), table]


def _verification(st: Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("4. Verification and trust", st.h1),
        Paragraph("What the vault checked when it issued this report", st.h2),
    ]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in ("Result", "Check", "Detail")]]
    for ch in r.checks:
        rows.append(
            [
                Paragraph("PASS" if ch.ok else "FAIL", st.pass_ if ch.ok else st.fail),
                Paragraph(esc(ch.name), st.small_bold),
                Paragraph(esc(ch.detail), st.small),
            ]
        )
    out.append(grid(rows, [14 * mm, 36 * mm, 124 * mm]))
    out.append(Paragraph("Trust anchors", st.h2))
    pairs = [("Vault log key (vkey)", mono(st, r.vault.log_key))]
    for t in r.vault.tsas:
        kind = "built-in, self-operated" if t.self_operated else f"external, {esc(t.url or '')}"
        pairs.append(
            (f"TSA {t.name} root SHA-256", f"{mono(st, ', '.join(t.root_sha256))} ({kind})")
        )
    s = r.vault.report_signer
    if s is not None:
        issuer = (
            "issued by the built-in TSA's root CA (same trust anchor)"
            if s.issued_by_tsa_root
            else "self-signed: pin this certificate"
        )
        pairs += [
            ("Report signer", f"{esc(s.subject)} — {issuer}"),
            ("Signer cert SHA-256", mono(st, s.certificate_sha256)),
            ("Signature time-stamp", f"TSA {esc(s.timestamped_by)}"),
        ]
    out.append(kv(st, pairs, label=40 * mm))
    out += _certificates(st, r)
    out.append(Paragraph("Re-checking this report", st.h2))
    out.append(
        Paragraph(
            "Appendix A states the checkpoints and time-stamps every fact rests on; Appendix B "
            "lists the commands a third party runs, trusting nothing the vault says, to re-check "
            "every fact and check in this report.",
            st.body,
        )
    )
    out.append(Paragraph("About this document", st.h2))
    out.append(
        Paragraph(
            "This PDF carries a PAdES signature with a signature time-stamp and a document "
            "time-stamp from the TSA named above; any change to it after signing invalidates "
            "them. Issuing it was itself recorded as a <b>report.issued</b> custody event on "
            "this case, carrying the SHA-256 of this exact file.",
            st.body,
        )
    )
    return out


# -- document -----------------------------------------------------------------------------------


class _NumberedCanvas(Canvas):
    """Defers page output so each footer can say "page N of M"."""

    footer = ""
    font = "Helvetica"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab's page reset

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._footer(total)
            super().showPage()
        super().save()

    def _footer(self, total: int) -> None:
        self.saveState()
        self.setFont(self.font, 7)
        self.setFillColor(colors.grey)
        y = MARGIN / 2
        self.drawString(MARGIN, y, self.footer)
        self.drawRightString(PAGE[0] - MARGIN, y, f"page {self.getPageNumber()} of {total}")
        self.restoreState()


class DocumentInfo(NamedTuple):
    """The document's title, author and subject: in the Info dictionary and, identically,
    in the PDF/A XMP metadata (`pdfa`)."""

    title: str
    author: str
    subject: str


def document_info(report: CaseReport) -> DocumentInfo:
    return DocumentInfo(
        title=f"Chain-of-custody report {report.case.id}",
        author=f"Locard vault {report.anchor.origin}",
        subject=f"{report.case.id}: {report.case.title}",
    )


def render_pdf(report: CaseReport) -> bytes:
    st = Styles()
    info = document_info(report)
    sans = font("LocardSans")
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=info.title,
        author=info.author,
        subject=info.subject,
        creator="Locard",
        # Nor may the canvas start in Helvetica (see `grid`).
        initialFontName=sans,
    )
    footer = (
        f"Locard chain-of-custody report · {report.case.id} · "
        f"as of checkpoint {report.anchor.size} of {report.anchor.origin}"
    )

    def canvas_maker(*args: Any, **kwargs: Any) -> Canvas:
        canvas = _NumberedCanvas(*args, **kwargs)
        canvas.footer, canvas.font = footer, sans
        return canvas

    story = (
        _title_page(st, report)
        + _evidence(st, report)
        + _custody(st, report)
        + _case_events(st, report)
        + _verification(st, report)
        + declaration(st, report)
        + checkpoints_appendix(st, report)
        + commands_appendix(st, report)
        + renewals_appendix(st, report)
    )
    doc.build(story, canvasmaker=canvas_maker)
    return buf.getvalue()
