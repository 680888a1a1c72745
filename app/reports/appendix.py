"""The report's appendices: the checkpoints and time-stamps every fact rests on (A), and
the commands a third party runs to re-check the report (B). Kept out of the body, which is
written for a court, not a cryptographer."""

from __future__ import annotations

from app.reports.models import CaseReport
from app.reports.sections import Section


def checkpoints_appendix(r: CaseReport) -> Section:
    fingerprints = {t.name: ", ".join(t.root_sha256) for t in r.vault.tsas}
    return Section("appendix_checkpoints.html", {"fingerprints": fingerprints})


def commands_appendix(r: CaseReport) -> Section:
    return Section("appendix_commands.html", {})
