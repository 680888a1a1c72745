"""The leadership metrics as a PDF: the same figures as the page and the CSV, on A4."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from reportlab.platypus.flowables import Flowable

from app.incidents.leadership import Group, Leadership
from app.incidents.metrics import human_duration
from app.reports.pdf_style import MARGIN, PAGE, WIDTH, Styles, esc, grid, utc

_GROUP_HEAD = ("", "Declared", "MTTD", "MTTR", "MTTA", "MTTC", "Detected", "Recovered")


def _groups(st: Styles, title: str, groups: tuple[Group, ...]) -> list[Flowable]:
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in (title, *_GROUP_HEAD[1:])]]
    for g in groups:
        cells = (
            g.key,
            str(g.declared),
            human_duration(g.mttd),
            human_duration(g.mttr),
            human_duration(g.mtta),
            human_duration(g.mttc),
            str(g.detected),
            str(g.recovered),
        )
        rows.append([Paragraph(esc(c), st.small) for c in cells])
    if len(rows) == 1:
        return [Paragraph(f"No incidents declared in the period ({esc(title.lower())}).", st.body)]
    first = 24 * mm
    return [grid(rows, [first] + [(WIDTH - first) / 7] * 7)]


def _lagging(st: Styles, m: Leadership, today: date) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Lagging indicators", st.h1)]
    rows: list[list[Any]] = [[Paragraph(h, st.cell_head) for h in ("Indicator", "Case", "Detail")]]
    for r in m.repeats:
        rows.append(
            [
                Paragraph("Repeat root cause", st.small),
                Paragraph(esc(", ".join(r.cases)), st.small),
                Paragraph(f"{esc(r.root_cause)} ({len(r.cases)} incidents)", st.small),
            ]
        )
    for n in m.missed_notifications:
        late = human_duration((n.notified_at or m.now) - n.due_at)
        rows.append(
            [
                Paragraph("Missed notification window", st.small),
                Paragraph(esc(n.case_id), st.small),
                Paragraph(f"{esc(n.title)}: due {utc(n.due_at)}, {late} late", st.small),
            ]
        )
    for o in m.overdue_items:
        days = (today - date.fromisoformat(o.item.due)).days
        rows.append(
            [
                Paragraph("Action item past due", st.small),
                Paragraph(esc(o.case_id), st.small),
                Paragraph(
                    f"{esc(o.item.title)} (owner {esc(o.item.owner)}): {days} d overdue", st.small
                ),
            ]
        )
    if len(rows) == 1:
        out.append(Paragraph("None: no repeat, missed window or overdue item.", st.body))
    else:
        out.append(grid(rows, [45 * mm, 30 * mm, WIDTH - 75 * mm]))
    return out


def render_leadership_pdf(m: Leadership) -> bytes:
    st = Styles()
    story: list[Flowable] = [
        Paragraph("Incident metrics for leadership", st.title),
        Paragraph(
            f"Incidents declared from {utc(m.since)} to {utc(m.until)}; computed {utc(m.now)}.",
            st.subtitle,
        ),
        Paragraph(
            "MTTD: first malicious activity to detection, as assessed. MTTR: declaration to "
            "recovered. MTTA and MTTC: declaration to acknowledged and to contained.",
            st.body,
        ),
        Paragraph("Per severity", st.h1),
        *_groups(st, "Severity", m.per_severity),
        Spacer(1, 4 * mm),
        Paragraph("Per month", st.h1),
        *_groups(st, "Month", m.per_month),
        *_lagging(st, m, m.now.date()),
    ]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title="Incident metrics for leadership",
        author="Locard",
    )
    doc.build(story)
    return buf.getvalue()
