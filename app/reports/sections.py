"""A section of the report PDF: an HTML template (under `templates/`) and what it needs
beyond the report itself. Each section module offers a `(CaseReport) -> Section | None`
(None: nothing to say in this report), and `pdf.SECTIONS` puts them in order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from app.reports.models import CaseReport


class Section(NamedTuple):
    template: str
    context: Mapping[str, Any]


SectionMaker = Callable[[CaseReport], Section | None]
