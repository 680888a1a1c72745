"""The report's HTML templates and the filters they format facts with, shared by its sections
(`pdf`, `declaration`, `appendix`).

The look is the web pages': the report's stylesheet comes after the pages' own (`locard.css`),
whose colours it reuses. Hashes and commands are monospace and may wrap anywhere; prose,
identifiers and event names wrap only between words (`templates/report.css`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from app.reports.models import Anchor, CaseReport, TsaTime

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
#: the web pages' stylesheet (colours, type), then the report's print rules on top
STYLESHEETS = (HERE.parent / "web" / "static" / "locard.css", TEMPLATES / "report.css")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(value: object) -> str:
    """Text as the report prints it: control characters dropped (a PDF cannot show them)."""
    return _CONTROL.sub("", "" if value is None else str(value))


def utc(at: datetime | None) -> str:
    if at is None:
        return "—"
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") + " UTC"


def as_of(a: Anchor) -> str:
    """What a report is a snapshot of: never "now", which would be false the day after."""
    return f"as of checkpoint {a.size} ({utc(a.created_at)})"


def time_cell(at: datetime) -> Markup:
    at = at.astimezone(UTC)
    return Markup("{}<br>{}Z").format(at.strftime("%Y-%m-%d"), at.strftime("%H:%M:%S.%f"))


def tsa_times(times: Sequence[TsaTime]) -> Markup:
    """TSA times, one per line; `*` marks a self-operated TSA (explained under each table)."""
    if not times:
        return Markup("TSA token pending")
    return Markup("<br>").join(
        Markup("{}{}: {:%Y-%m-%d %H:%M:%S}Z").format(
            clean(t.tsa), "*" if t.self_operated else "", t.gen_time.astimezone(UTC)
        )
        for t in times
    )


def performed_at(value: str) -> Markup:
    try:
        return time_cell(datetime.fromisoformat(value))
    except ValueError:
        return escape(clean(value))


def lines(value: object) -> Markup:
    """Multi-line text (notes, descriptions) with its line breaks kept."""
    return Markup("<br>").join(escape(x) for x in clean(value).split("\n"))


def self_operated(r: CaseReport) -> list[str]:
    return [t.name for t in r.vault.tsas if t.self_operated]


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        clean=clean,
        utc=utc,
        as_of=as_of,
        time_cell=time_cell,
        tsa_times=tsa_times,
        performed_at=performed_at,
        lines=lines,
    )
    env.globals["self_operated"] = self_operated
    return env
