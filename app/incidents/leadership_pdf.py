"""The leadership metrics as a PDF: the same figures as the page and the CSV, on A4, tagged
PDF/A like the custody report and drawn with its templates and stylesheet."""

from __future__ import annotations

from datetime import date

from app.incidents.leadership import Leadership
from app.incidents.metrics import human_duration
from app.reports.pdf_style import environment, utc
from app.reports.pdfa import write_pdfa

_GROUP_HEAD = ("Declared", "MTTD", "MTTR", "MTTA", "MTTC", "Detected", "Recovered")


def lagging_rows(m: Leadership, today: date) -> list[tuple[str, str, str]]:
    """Repeat root causes, missed notification windows and overdue action items, a row each."""
    rows = [
        ("Repeat root cause", ", ".join(r.cases), f"{r.root_cause} ({len(r.cases)} incidents)")
        for r in m.repeats
    ]
    for n in m.missed_notifications:
        late = human_duration((n.notified_at or m.now) - n.due_at)
        rows.append(
            (
                "Missed notification window",
                n.case_id,
                f"{n.title}: due {utc(n.due_at)}, {late} late",
            )
        )
    for o in m.overdue_items:
        days = (today - date.fromisoformat(o.item.due)).days
        rows.append(
            (
                "Action item past due",
                o.case_id,
                f"{o.item.title} (owner {o.item.owner}): {days} d overdue",
            )
        )
    return rows


def render_leadership_pdf(m: Leadership) -> bytes:
    env = environment()
    env.filters["duration"] = human_duration
    html = env.get_template("leadership.html").render(
        m=m, head=_GROUP_HEAD, lagging=lagging_rows(m, m.now.date())
    )
    return write_pdfa(html)
