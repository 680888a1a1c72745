"""Rendering verification reports for people (Rich) and machines (JSON).

Everything shown comes from the evidence, which may be hostile: text is rendered as
plain `Text` (never Rich markup) with control and format characters escaped, so a
crafted receipt can neither crash the printer nor forge lines of the checklist.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from verify.report import FAILED, PIN_LOG_KEY, PIN_TSA_ROOT, UNPINNED, VERIFIED, Check, Report

#: `locard verify` exit status: every check passed against pinned keys / a check failed /
#: verification could not run / every check passed but against the evidence's own keys.
EXIT_VERIFIED = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2
EXIT_UNPINNED = 3

#: What to pin and where it comes from, for the verdict of an unpinned verification.
PIN_HELP = {
    PIN_LOG_KEY: (
        "--trusted-key vault.vkey: the vault's log key, printed by `locard keys` on the vault "
        "(or `log_key` of GET /v1/keys), obtained from its operators, not from the evidence"
    ),
    PIN_TSA_ROOT: (
        "--trusted-tsa-ca tsa-root.pem: the TSA's root certificate; for the built-in TSA the "
        "vault's keys/tsa/tsa-root.pem (path printed by `locard init`, also in GET /v1/keys), "
        "for an external TSA its operator's published root"
    ),
}

OK = Text("✔", style="green")
FAIL = Text("✘", style="red")
# Cc: C0/C1 controls (ANSI escapes); Cf: bidi overrides and other invisible formatting;
# Zl/Zp: line breaks; Cs: lone surrogates, which cannot even be written out.
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def clean(text: str) -> str:
    """`text` with every character that could alter the terminal's display escaped."""
    if text.isprintable():
        return text
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in _UNSAFE else ch for ch in text
    )


def _failure_label(check: Check) -> Text:
    text = Text(clean(check.detail))
    if check.error is not None:
        text.append(f"\n{type(check.error).__name__} [{check.check}]", style="dim")
    return text


def verdict(reports: Sequence[Report]) -> str:
    """FAILED if any check failed (or nothing was checked), else UNPINNED or VERIFIED."""
    if not reports or any(not r.ok for r in reports):
        return FAILED
    return UNPINNED if any(r.unpinned for r in reports) else VERIFIED


def exit_status(reports: Sequence[Report]) -> int:
    return {VERIFIED: EXIT_VERIFIED, UNPINNED: EXIT_UNPINNED}.get(verdict(reports), EXIT_FAILED)


def _unpinned(reports: Sequence[Report]) -> list[str]:
    return sorted({p for r in reports for p in r.unpinned}, key=list(PIN_HELP).index)


def print_reports(console: Console, reports: Sequence[Report]) -> None:
    for report in reports:
        table = Table(
            title=Text(clean(report.subject)), show_header=True, header_style="bold", expand=False
        )
        table.add_column("")
        table.add_column("check", no_wrap=True)
        table.add_column("result", overflow="fold")
        for c in report.checks:
            if c.ok:
                table.add_row(OK, Text(clean(c.name)), Text(clean(c.detail)))
            else:
                table.add_row(FAIL, Text(clean(c.name), style="red"), _failure_label(c))
        console.print(table)
        for w in report.warnings:
            console.print(Text.assemble(("warning: ", "yellow"), clean(w)))
    failed = [r for r in reports if not r.ok]
    if not failed and verdict(reports) == UNPINNED:
        missing = _unpinned(reports)
        console.print(
            Text.assemble(
                ("NOT VERIFIED (unpinned)", "bold yellow"),
                f" — every check passed, but against the {' and '.join(missing)} that the "
                "evidence carries itself, which anyone can make. Pin:",
            )
        )
        for pin in missing:
            console.print(f"  {PIN_HELP[pin]}", markup=False, highlight=False)
        return
    if not failed:
        console.print(Text("VERIFIED — every check passed", style="bold green"))
        return
    first = failed[0].first_failure
    what = f"{first.name} failed [{first.check}]: {first.detail}" if first else "no checks ran"
    console.print(
        Text.assemble(
            ("VERIFICATION FAILED", "bold red"), f" — {clean(failed[0].subject)}: {clean(what)}"
        )
    )


def reports_json(reports: Sequence[Report]) -> str:
    """`ok` is true only for VERIFIED: passing against the evidence's own keys is not."""
    result = verdict(reports)
    doc: dict[str, object] = {"ok": result == VERIFIED, "verdict": result}
    if result == UNPINNED:
        missing = _unpinned(reports)
        doc["unpinned"] = missing
        doc["pin"] = {p: PIN_HELP[p] for p in missing}
    doc["reports"] = [r.to_json() for r in reports]
    return json.dumps(doc, indent=2)
