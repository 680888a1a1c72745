"""Server-rendered SVG charts: no script, readable by screen readers, printable.

Each chart carries a <title> and <desc> and is followed on the page by the same
numbers as a table, so nothing is conveyed by colour or shape alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from html import escape

from markupsafe import Markup

from app.incidents.metrics import human_duration

WIDTH = 660
LABEL_W = 60
VALUE_W = 230
ROW_H = 40
BAR_H = 18


@dataclass(frozen=True)
class TargetRow:
    label: str
    value: timedelta | None
    target: timedelta
    count: int


def _svg_open(chart_id: str, title: str, desc: str, height: int) -> list[str]:
    return [
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" aria-labelledby="{chart_id}-t {chart_id}-d" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]


def target_chart(chart_id: str, title: str, rows: Sequence[TargetRow]) -> Markup:
    """Mean time per severity as a share of its target: the dashed line is the target.

    Targets differ by orders of magnitude (15 minutes for P1, a week for P4), so each
    row is scaled to its own target; the labels give the absolute times.
    """
    plot_w = WIDTH - LABEL_W - VALUE_W
    target_x = LABEL_W + plot_w * 0.6
    height = ROW_H * len(rows) + 28
    desc = "; ".join(
        f"{r.label}: {human_duration(r.value) if r.value else 'no data'} "
        f"against a target of {human_duration(r.target)} ({r.count} incident(s))"
        for r in rows
    )
    out = _svg_open(chart_id, title, desc, height)
    for i, r in enumerate(rows):
        y = 8 + i * ROW_H
        out.append(f'<text class="axis" x="0" y="{y + BAR_H - 4}">{escape(r.label)}</text>')
        out.append(f'<rect class="track" x="{LABEL_W}" y="{y}" width="{plot_w}" height="{BAR_H}"/>')
        if r.value is not None:
            ratio = min(r.value / r.target, 1 / 0.6) if r.target else 0
            w = max(2.0, plot_w * 0.6 * ratio)
            cls = "ok" if r.value <= r.target else "late"
            out.append(
                f'<rect class="bar {cls}" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}"/>'
            )
            text = f"{human_duration(r.value)} / {human_duration(r.target)}"
            if cls == "late":
                text += " (late)"
        else:
            text = f"no data / {human_duration(r.target)}"
        out.append(
            f'<text class="value" x="{LABEL_W + plot_w + 8}" y="{y + BAR_H - 4}">'
            f"{escape(text)}</text>"
        )
    out.append(
        f'<line class="target" x1="{target_x:.1f}" x2="{target_x:.1f}" y1="2" y2="{height - 22}"/>'
    )
    out.append(
        f'<text class="axis small" x="{target_x:.1f}" y="{height - 6}" '
        f'text-anchor="middle">target</text>'
    )
    out.append("</svg>")
    return Markup("".join(out))


def count_chart(chart_id: str, title: str, rows: Sequence[tuple[str, int]]) -> Markup:
    plot_w = WIDTH - LABEL_W - VALUE_W
    peak = max((n for _, n in rows), default=0) or 1
    height = ROW_H * len(rows) + 8
    desc = "; ".join(f"{label}: {n}" for label, n in rows)
    out = _svg_open(chart_id, title, desc, height)
    for i, (label, n) in enumerate(rows):
        y = 8 + i * ROW_H
        out.append(f'<text class="axis" x="0" y="{y + BAR_H - 4}">{escape(label)}</text>')
        out.append(f'<rect class="track" x="{LABEL_W}" y="{y}" width="{plot_w}" height="{BAR_H}"/>')
        if n:
            w = max(2.0, plot_w * n / peak)
            out.append(
                f'<rect class="bar count" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}"/>'
            )
        out.append(f'<text class="value" x="{LABEL_W + plot_w + 8}" y="{y + BAR_H - 4}">{n}</text>')
    out.append("</svg>")
    return Markup("".join(out))
