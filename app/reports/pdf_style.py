"""The report PDF's fonts, paragraph styles and table helpers (reportlab), shared by its
sections (`pdf`, `declaration`, `appendix`). Hashes and commands are monospace and wrap
inside their cells instead of running off the page; prose never breaks inside a word."""

from __future__ import annotations

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
from reportlab.platypus import (
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from app.reports.models import Anchor, CaseReport, TsaTime

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


def font(name: str) -> str:
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


class Styles:
    def __init__(self) -> None:
        sans, bold, mono = font("LocardSans"), font("LocardSans-Bold"), font("LocardMono")
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
            "body",
            fontName=sans,
            fontSize=9,
            leading=12,
            spaceAfter=4,
            alignment=TA_LEFT,
            splitLongWords=0,
        )
        self.blank = ParagraphStyle("blank", parent=self.body, leading=22)
        self.small = ParagraphStyle("small", fontName=sans, fontSize=7.5, leading=9.5)
        # Prose in narrow table cells wraps between words only: "disable_account" must not
        # come out as "disable_accou nt" (hashes and commands use the mono styles, which do).
        self.prose = ParagraphStyle("prose", parent=self.small, splitLongWords=0)
        self.prose_bold = ParagraphStyle("prose_bold", parent=self.prose, fontName=bold)
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


def esc(value: Any) -> str:
    """Markup-safe text: reportlab parses paragraphs as XML."""
    s = "" if value is None else str(value)
    return escape(_CONTROL.sub("", s)).replace("\n", "<br/>")


def utc(at: datetime | None) -> str:
    if at is None:
        return "—"
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") + " UTC"


def as_of(a: Anchor) -> str:
    """What a report is a snapshot of: never "now", which would be false the day after."""
    return f"as of checkpoint {a.size} ({utc(a.created_at)})"


def time_cell(at: datetime) -> str:
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d") + "<br/>" + at.strftime("%H:%M:%S.%f") + "Z"


def tsa_times(times: Sequence[TsaTime]) -> str:
    """TSA times, one per line; `*` marks a self-operated TSA (explained under each table)."""
    if not times:
        return "TSA token pending"
    return "<br/>".join(
        f"{esc(t.tsa)}{'*' if t.self_operated else ''}: "
        f"{t.gen_time.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
        for t in times
    )


def anchored(size: int, times: Sequence[TsaTime]) -> str:
    return f"checkpoint {size}<br/>{tsa_times(times)}"


def performed_at(value: str) -> str:
    try:
        return time_cell(datetime.fromisoformat(value))
    except ValueError:
        return esc(value)


def grid(
    rows: list[list[Any]], widths: Sequence[float], *, header: bool = True, zebra: bool = True
) -> Table:
    table = Table(rows, colWidths=list(widths), repeatRows=1 if header else 0, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        # Plain-string cells (even empty ones) would otherwise pull in Helvetica, which is
        # never embedded: PDF/A wants every font embedded.
        ("FONTNAME", (0, 0), (-1, -1), font("LocardSans")),
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


def kv(st: Styles, pairs: Sequence[tuple[str, str]], *, label: float = 38 * mm) -> Table:
    rows = [[Paragraph(esc(k), st.small_bold), Paragraph(v, st.small)] for k, v in pairs]
    table = grid(rows, [label, WIDTH - label], header=False)
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (0, -1), _ZEBRA)]))
    return table


def mono(st: Styles, value: str) -> str:
    return f'<font name="{st.mono_font}">{esc(value)}</font>'


def self_operated_note(st: Styles, r: CaseReport) -> Flowable:
    names = [t.name for t in r.vault.tsas if t.self_operated]
    if not names:
        return Spacer(1, 2)
    return Paragraph(
        "* self-operated TSA (" + esc(", ".join(names)) + "): its time is the vault "
        "operator's own clock, not an independent authority's.",
        st.small,
    )
