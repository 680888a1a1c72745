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

from verify.receipt import Check, Report

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
    # Overall ok needs at least one report: an empty list proves nothing.
    ok = bool(reports) and all(r.ok for r in reports)
    return json.dumps({"ok": ok, "reports": [r.to_json() for r in reports]}, indent=2)
