"""Rendering verification reports for people (Rich) and machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from verify.receipt import Report

OK = "[green]✔[/green]"
FAIL = "[red]✘[/red]"


def print_reports(console: Console, reports: Sequence[Report]) -> None:
    for report in reports:
        table = Table(title=report.subject, show_header=True, header_style="bold", expand=False)
        table.add_column("")
        table.add_column("check")
        table.add_column("result", overflow="fold")
        for c in report.checks:
            table.add_row(OK if c.ok else FAIL, c.name, c.detail)
        console.print(table)
        for w in report.warnings:
            console.print(f"[yellow]warning:[/yellow] {w}")
    failed = [r for r in reports if not r.ok]
    if failed:
        first = failed[0].first_failure
        what = f"{first.name}: {first.detail}" if first else "no checks ran"
        console.print(f"[bold red]VERIFICATION FAILED[/bold red] — {failed[0].subject}: {what}")
    else:
        console.print("[bold green]VERIFIED[/bold green] — every check passed")


def reports_json(reports: Sequence[Report]) -> str:
    return json.dumps(
        {"ok": all(r.ok for r in reports), "reports": [r.to_json() for r in reports]}, indent=2
    )
