"""Rendering a `CaseReport` as a readable PDF (reportlab), before it is signed.

Written for a reader who is not a cryptographer: a title page with the case and the bottom
line, then evidence, custody, containment, anchoring and verification sections. Hashes and
commands are monospace and wrap inside their cells instead of running off the page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from app.reports.models import CaseReport, CaseSummary, EventEntry, TsaTime

PAGE = A4
MARGIN = 18 * mm
WIDTH = PAGE[0] - 2 * MARGIN
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HEADER_BG = colors.HexColor("#1f3a5f")
_ZEBRA = colors.HexColor("#f2f5f9")
_GRID = colors.HexColor("#b8c2cc")
_FAIL = colors.HexColor("#b00020")
_PASS = colors.HexColor("#1b6e20")


# -- fonts --------------------------------------------------------------------------------------

# TrueType fonts are embedded, so names and reasons in any Latin, Greek or Cyrillic script
# render the same on every reader; the standard 14 PDF fonts only cover Latin-1.
_FONT_CANDIDATES = {
    "LocardSans": (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "reportlab:Vera.ttf",
    ),
    "LocardSans-Bold": (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "reportlab:VeraBd.ttf",
    ),
    "LocardMono": ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",),
}
_FALLBACK = {
    "LocardSans": "Helvetica",
    "LocardSans-Bold": "Helvetica-Bold",
    "LocardMono": "Courier",
}
_fonts: dict[str, str] = {}


def _font(name: str) -> str:
    if name in _fonts:
        return _fonts[name]
    import reportlab

    chosen = _FALLBACK[name]
    for candidate in _FONT_CANDIDATES[name]:
        if candidate.startswith("reportlab:"):
            path = Path(reportlab.__file__).parent / "fonts" / candidate.split(":", 1)[1]
        else:
            path = Path(candidate)
        if path.is_file():
            try:
                pdfmetrics.registerFont(TTFont(name, str(path)))
            except Exception:  # an unreadable font file: fall through to the next candidate
                continue
            chosen = name
            break
    _fonts[name] = chosen
    return chosen


class _Styles:
    def __init__(self) -> None:
        sans, bold, mono = _font("LocardSans"), _font("LocardSans-Bold"), _font("LocardMono")
        self.mono_font = mono
        self.title = ParagraphStyle("title", fontName=bold, fontSize=22, leading=27, spaceAfter=4)
        self.subtitle = ParagraphStyle(
            "subtitle", fontName=sans, fontSize=13, leading=17, spaceAfter=10
        )
        self.h1 = ParagraphStyle(
            "h1",
            fontName=bold,
            fontSize=14,
            leading=18,
            spaceBefore=6,
            spaceAfter=6,
            textColor=_HEADER_BG,
        )
        self.h2 = ParagraphStyle(
            "h2", fontName=bold, fontSize=11, leading=14, spaceBefore=8, spaceAfter=4
        )
        self.body = ParagraphStyle(
            "body", fontName=sans, fontSize=9, leading=12, spaceAfter=4, alignment=TA_LEFT
        )
        self.small = ParagraphStyle("small", fontName=sans, fontSize=7.5, leading=9.5)
        self.small_bold = ParagraphStyle("small_bold", parent=self.small, fontName=bold)
        self.cell_head = ParagraphStyle(
            "cell_head", fontName=bold, fontSize=7.5, leading=9.5, textColor=colors.white
        )
        # splitLongWords (on by default) breaks a hash that is wider than its cell.
        self.mono = ParagraphStyle("mono", fontName=mono, fontSize=7.2, leading=9.2)
        # Small enough that a 64-digit hash fits one line of an 88 mm column.
        self.mono_small = ParagraphStyle("mono_small", fontName=mono, fontSize=6.3, leading=8)
        self.command = ParagraphStyle(
            "command",
            fontName=mono,
            fontSize=7.2,
            leading=9.2,
            backColor=_ZEBRA,
            borderPadding=3,
            leftIndent=3,
            rightIndent=3,
            spaceBefore=2,
            spaceAfter=8,
        )
        self.pass_ = ParagraphStyle("pass", parent=self.small_bold, textColor=_PASS)
        self.fail = ParagraphStyle("fail", parent=self.small_bold, textColor=_FAIL)
        self.banner_ok = ParagraphStyle(
            "banner_ok", fontName=bold, fontSize=10, leading=13, textColor=_PASS
        )
        self.banner_fail = ParagraphStyle(
            "banner_fail", fontName=bold, fontSize=10, leading=13, textColor=_FAIL
        )


# -- helpers ------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Markup-safe text: reportlab parses paragraphs as XML."""
    s = "" if value is None else str(value)
    return escape(_CONTROL.sub("", s)).replace("\n", "<br/>")


def _time(at: datetime | None) -> str:
    if at is None:
        return "—"
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") + " UTC"


def _time_cell(at: datetime) -> str:
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d") + "<br/>" + at.strftime("%H:%M:%S.%f") + "Z"


def _tsa_times(times: Sequence[TsaTime]) -> str:
    """TSA times, one per line; `*` marks a self-operated TSA (explained under each table)."""
    if not times:
        return "TSA token pending"
    return "<br/>".join(
        f"{_text(t.tsa)}{'*' if t.self_operated else ''}: "
        f"{t.gen_time.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
        for t in times
    )


def _anchored(size: int, times: Sequence[TsaTime]) -> str:
    return f"checkpoint {size}<br/>{_tsa_times(times)}"


def _performed_at(value: str) -> str:
    try:
        return _time_cell(datetime.fromisoformat(value))
    except ValueError:
        return _text(value)


def _grid(
    rows: list[list[Any]], widths: Sequence[float], *, header: bool = True, zebra: bool = True
) -> Table:
    table = Table(rows, colWidths=list(widths), repeatRows=1 if header else 0, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG))
    if zebra:
        for i in range(1 if header else 0, len(rows)):
            if i % 2 == 0:
                style.append(("BACKGROUND", (0, i), (-1, i), _ZEBRA))
    table.setStyle(TableStyle(style))
    return table


def _kv(st: _Styles, pairs: Sequence[tuple[str, str]], *, label: float = 38 * mm) -> Table:
    rows = [[Paragraph(_text(k), st.small_bold), Paragraph(v, st.small)] for k, v in pairs]
    table = _grid(rows, [label, WIDTH - label], header=False)
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (0, -1), _ZEBRA)]))
    return table


def _mono(st: _Styles, value: str) -> str:
    return f'<font name="{st.mono_font}">{_text(value)}</font>'


def _self_operated_note(st: _Styles, r: CaseReport) -> Flowable:
    names = [t.name for t in r.vault.tsas if t.self_operated]
    if not names:
        return Spacer(1, 2)
    return Paragraph(
        "* self-operated TSA (" + _text(", ".join(names)) + "): its time is the vault "
        "operator's own clock, not an independent authority's.",
        st.small,
    )


# -- sections -----------------------------------------------------------------------------------


def _incident(c: CaseSummary) -> list[tuple[str, str]]:
    """Privacy and notification facts, shown only when the vault records them."""
    out: list[tuple[str, str]] = []
    if c.declared_at is not None:
        out.append(("Declared", _time(c.declared_at)))
    if c.personal_data is not None:
        out.append(("Personal data", "possibly exposed" if c.personal_data else "not exposed"))
    if c.notification_required is not None:
        out.append(("Notification", "required" if c.notification_required else "not required"))
    if c.aware_at is not None:
        out.append(("Aware of breach", _time(c.aware_at)))
    if c.notified_at is not None:
        out.append(("Notified", _time(c.notified_at)))
    return out


def _title_page(st: _Styles, r: CaseReport) -> list[Flowable]:
    c = r.case
    out: list[Flowable] = [
        Paragraph("Chain-of-Custody Report", st.title),
        Paragraph(f"{_text(c.id)} — {_text(c.title)}", st.subtitle),
    ]
    if r.all_checks_passed:
        out.append(
            Paragraph(
                f"All {len(r.checks)} integrity checks passed when this report was issued "
                f"(section 5).",
                st.banner_ok,
            )
        )
    else:
        failed = ", ".join(ch.name for ch in r.checks if not ch.ok)
        out.append(
            Paragraph(f"INTEGRITY CHECKS FAILED: {_text(failed)} (section 5).", st.banner_fail)
        )
    out.append(Spacer(1, 6))
    events = sum(len(a.events) for a in r.artifacts) + len(r.case_events)
    out.append(Paragraph("Case", st.h2))
    out.append(
        _kv(
            st,
            [
                ("Case", _text(c.id)),
                ("Title", _text(c.title)),
                ("Severity", _text(c.severity)),
                ("Status", _text(c.status)),
                ("Owner", _text(c.owner)),
                ("Opened", f"{_time(c.created_at)} by {_text(c.created_by)}"),
                ("Last changed", _time(c.updated_at)),
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
        out += [Paragraph("Description", st.h2), Paragraph(_text(c.description), st.body)]
    a = r.anchor
    times = (
        "<br/>".join(
            f"{_text(t.tsa)}: {_time(t.gen_time)}"
            + (" — self-operated TSA (the vault's own clock)" if t.self_operated else "")
            for t in a.timestamps
        )
        or f"pending ({a.tokens_pending} TSA token(s) owed)"
    )
    out.append(Paragraph("This report", st.h2))
    out.append(
        _kv(
            st,
            [
                ("Issued", _time(r.generated_at)),
                ("Requested by", f"{_text(r.generated_by.id)} ({_text(r.generated_by.role)})"),
                ("Ledger", _text(a.origin)),
                ("Anchored to", f"checkpoint {a.size} (every fact below is in this tree)"),
                ("Checkpoint root", _mono(st, a.root)),
                ("Checkpoint time", times),
            ],
        )
    )
    if r.notes:
        out.append(Paragraph("Notes", st.h2))
        out += [Paragraph("• " + _text(n), st.body) for n in r.notes]
    out.append(PageBreak())
    return out


def _evidence(st: _Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("1. Evidence items and hashes", st.h1)]
    if not r.artifacts:
        out.append(Paragraph("No evidence items were ingested into this case.", st.body))
    for art in r.artifacts:
        block: list[Flowable] = [Paragraph(f"{_text(art.id)} — {_text(art.file_name)}", st.h2)]
        method = " / ".join(v for v in (art.collection_method, art.collection_tool) if v)
        block.append(
            _kv(
                st,
                [
                    ("File name", _text(art.file_name)),
                    ("Media type", _text(art.media_type)),
                    ("Size", f"{art.size:,} bytes"),
                    ("SHA-256", _mono(st, art.sha256)),
                    ("SHA-1", _mono(st, art.sha1)),
                    ("MD5", _mono(st, art.md5)),
                    ("Source host", _text(art.source_host or "—")),
                    ("Collection", _text(method or "—")),
                    ("Collected at", _time(art.collected_at)),
                    ("Collected by", _text(art.collector)),
                    ("Ingested", f"{_time(art.ingested_at)} — ledger leaf {art.ingest_index}"),
                    ("Current custodian", _text(art.custodian)),
                    ("Notes", _text(art.notes or "—")),
                ],
                label=30 * mm,
            )
        )
        out.append(KeepTogether(block))
    return out


_EVENT_WIDTHS = [10 * mm, 27 * mm, 23 * mm, 22 * mm, 60 * mm, 32 * mm]


def _event_table(st: _Styles, events: Sequence[EventEntry]) -> Table:
    head = ["Leaf", "Time (UTC)", "Event", "Actor (role)", "What happened", "Anchored by"]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in head]]
    for e in events:
        rows.append(
            [
                Paragraph(str(e.index), st.small),
                Paragraph(_time_cell(e.at), st.small),
                Paragraph(_text(e.type), st.small_bold),
                Paragraph(f"{_text(e.actor.id)}<br/>({_text(e.actor.role)})", st.small),
                Paragraph(_text(e.summary), st.small),
                Paragraph(_anchored(e.sealed_in, e.anchored), st.small),
            ]
        )
    return _grid(rows, _EVENT_WIDTHS)


def _custody(st: _Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("2. Chain of custody", st.h1),
        Paragraph(
            "Every event about each item, in ledger order (which is time order). Each event is "
            "hash-linked to the previous one about the same item, and is anchored by the first "
            "signed, timestamped checkpoint whose tree contains it.",
            st.body,
        ),
    ]
    for art in r.artifacts:
        out.append(CondPageBreak(60 * mm))
        out.append(Paragraph(f"{_text(art.id)} — {_text(art.file_name)}", st.h2))
        holders: list[list[Any]] = [
            [Paragraph(h, st.cell_head) for h in ("Held by", "From", "Until", "Started by leaf")]
        ]
        for p in art.custody:
            holders.append(
                [
                    Paragraph(_text(p.holder), st.small_bold),
                    Paragraph(_time(p.since), st.small),
                    Paragraph(_time(p.until) if p.until else "now", st.small),
                    Paragraph(str(p.started_by), st.small),
                ]
            )
        out.append(_grid(holders, [40 * mm, 52 * mm, 52 * mm, 30 * mm]))
        out.append(Spacer(1, 4))
        out.append(_event_table(st, art.events))
    out.append(_self_operated_note(st, r))
    return out


def _case_events(st: _Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [PageBreak(), Paragraph("3. Containment actions and holds", st.h1)]
    out.append(Paragraph("Containment actions", st.h2))
    if r.containment:
        head = ["Leaf", "Performed at", "Action", "Target", "Outcome", "By", "Ticket / details"]
        rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in head]]
        for c in r.containment:
            details = "<br/>".join(
                x for x in (_text(c.ticket) if c.ticket else "", _text(c.details)) if x
            )
            rows.append(
                [
                    Paragraph(str(c.index), st.small),
                    Paragraph(_performed_at(c.performed_at), st.small),
                    Paragraph(_text(c.action), st.small_bold),
                    Paragraph(_text(c.target), st.small),
                    Paragraph(_text(c.outcome), st.small),
                    Paragraph(
                        f"{_text(c.performed_by)}<br/>recorded by {_text(c.recorded_by.id)}",
                        st.small,
                    ),
                    Paragraph(details or "—", st.small),
                ]
            )
        widths = [10 * mm, 27 * mm, 23 * mm, 30 * mm, 17 * mm, 27 * mm, 40 * mm]
        out.append(_grid(rows, widths))
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
                    Paragraph(_time_cell(h.at), st.small),
                    Paragraph("SET" if h.on else "RELEASED", st.small_bold),
                    Paragraph(f"{_text(h.by.id)} ({_text(h.by.role)})", st.small),
                    Paragraph(_text(h.reason), st.small),
                    Paragraph(str(h.objects), st.small),
                ]
            )
        out.append(_grid(rows, [10 * mm, 27 * mm, 20 * mm, 30 * mm, 73 * mm, 14 * mm]))
    else:
        out.append(Paragraph("No legal hold was ever set on this case.", st.body))
    out.append(Paragraph("All case-level events", st.h2))
    out.append(_event_table(st, r.case_events))
    out.append(_self_operated_note(st, r))
    return out


def _anchoring(st: _Styles, r: CaseReport) -> list[Flowable]:
    a = r.anchor
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("4. Anchoring: checkpoints and time-stamps", st.h1),
        Paragraph(
            "The ledger is an RFC 9162 Merkle tree. A checkpoint states its size and root hash "
            "and is signed with the vault's Ed25519 key (C2SP signed note); each checkpoint is "
            "also time-stamped (RFC 3161) over the SHA-256 of its body. A fact is anchored by "
            "the first checkpoint whose tree contains it, and every such checkpoint is a prefix "
            "of the anchor checkpoint below.",
            st.body,
        ),
        Paragraph(f"Anchor checkpoint {a.size}", st.h2),
        _kv(
            st,
            [
                ("Origin", _text(a.origin)),
                ("Tree size", str(a.size)),
                ("Root hash", _mono(st, a.root)),
                ("Body SHA-256", _mono(st, a.body_sha256)),
                ("Sealed", _time(a.created_at)),
                ("Signed note", _mono(st, a.note.rstrip("\n"))),
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
                Paragraph(_text(t.tsa), st.small_bold),
                Paragraph(_time(t.gen_time), st.small),
                Paragraph("the vault (self-operated)" if t.self_operated else "external", st.small),
                Paragraph(_text(fingerprints.get(t.tsa, "not configured")), st.mono_small),
            ]
        )
    if not a.timestamps:
        rows.append([Paragraph("pending", st.small), "", "", ""])
    out += [Spacer(1, 4), _grid(rows, [20 * mm, 36 * mm, 30 * mm, 88 * mm])]
    out.append(Paragraph("Checkpoints that first covered the facts of this case", st.h2))
    head = ["Size", "Root hash", "Sealed (UTC)", "TSA time(s)"]
    rows = [[Paragraph(h, st.cell_head) for h in head]]
    for cp in r.checkpoints:
        rows.append(
            [
                Paragraph(str(cp.size), st.small),
                Paragraph(_text(cp.root), st.mono_small),
                Paragraph(_time_cell(cp.created_at), st.small),
                Paragraph(_tsa_times(cp.timestamps), st.small),
            ]
        )
    out.append(_grid(rows, [12 * mm, 88 * mm, 28 * mm, 46 * mm]))
    out.append(_self_operated_note(st, r))
    return out


def _verification(st: _Styles, r: CaseReport) -> list[Flowable]:
    out: list[Flowable] = [
        PageBreak(),
        Paragraph("5. Verification", st.h1),
        Paragraph("What the vault checked when it issued this report", st.h2),
    ]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in ("Result", "Check", "Detail")]]
    for ch in r.checks:
        rows.append(
            [
                Paragraph("PASS" if ch.ok else "FAIL", st.pass_ if ch.ok else st.fail),
                Paragraph(_text(ch.name), st.small_bold),
                Paragraph(_text(ch.detail), st.small),
            ]
        )
    out.append(_grid(rows, [14 * mm, 36 * mm, 124 * mm]))
    out.append(Paragraph("Trust anchors", st.h2))
    pairs = [("Vault log key (vkey)", _mono(st, r.vault.log_key))]
    for t in r.vault.tsas:
        kind = "built-in, self-operated" if t.self_operated else f"external, {_text(t.url or '')}"
        pairs.append(
            (f"TSA {t.name} root SHA-256", f"{_mono(st, ', '.join(t.root_sha256))} ({kind})")
        )
    s = r.vault.report_signer
    if s is not None:
        issuer = (
            "issued by the built-in TSA's root CA (same trust anchor)"
            if s.issued_by_tsa_root
            else "self-signed: pin this certificate"
        )
        pairs += [
            ("Report signer", f"{_text(s.subject)} — {issuer}"),
            ("Signer cert SHA-256", _mono(st, s.certificate_sha256)),
            ("Signature time-stamp", f"TSA {_text(s.timestamped_by)}"),
        ]
    out.append(_kv(st, pairs, label=40 * mm))
    out.append(Paragraph("How a third party can re-check this report", st.h2))
    out.append(
        Paragraph(
            "None of these steps trusts the vault: they need the vault's public log key and "
            "the TSA root certificate(s) above, obtained and compared independently. "
            "LOCARD_SERVER and LOCARD_TOKEN are the vault's address and a legal or auditor "
            "token; report.json is this report in JSON form, attached to this PDF "
            f"(also GET /v1/cases/{_text(r.case.id)}/report.json, issued anew).",
            st.body,
        )
    )
    for i, cmd in enumerate(r.recheck, 1):
        out.append(
            KeepTogether(
                [
                    Paragraph(f"{i}. {_text(cmd.purpose)}", st.body),
                    Paragraph(_text(cmd.command), st.command),
                ]
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


def render_pdf(report: CaseReport) -> bytes:
    st = _Styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"Chain-of-custody report {report.case.id}",
        author=f"Locard vault {report.anchor.origin}",
        subject=f"{report.case.id}: {report.case.title}",
        creator="Locard",
    )
    footer = (
        f"Locard chain-of-custody report · {report.case.id} · "
        f"anchored to checkpoint {report.anchor.size} of {report.anchor.origin}"
    )
    font = _font("LocardSans")

    def canvas_maker(*args: Any, **kwargs: Any) -> Canvas:
        canvas = _NumberedCanvas(*args, **kwargs)
        canvas.footer, canvas.font = footer, font
        return canvas

    story = (
        _title_page(st, report)
        + _evidence(st, report)
        + _custody(st, report)
        + _case_events(st, report)
        + _anchoring(st, report)
        + _verification(st, report)
    )
    doc.build(story, canvasmaker=canvas_maker)
    return buf.getvalue()
