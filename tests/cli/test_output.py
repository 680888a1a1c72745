"""The checklist printer: hostile text from evidence is shown, never interpreted."""

from __future__ import annotations

import io

from rich.console import Console

from cli.output import clean, print_reports, reports_json
from verify.errors import InclusionProofError
from verify.report import Check, Report


def test_clean_escapes_what_could_drive_the_terminal() -> None:
    assert clean("plain ✔ text") == "plain ✔ text"
    assert clean("a\x1b[2Jb") == "a\\u001b[2Jb"
    assert clean("x\u202ey") == "x\\u202ey"  # right-to-left override
    assert clean("1\n2\r3\u2028") == "1\\u000a2\\u000d3\\u2028"


def test_markup_and_escapes_in_reports_are_printed_literally() -> None:
    report = Report("[/bold] \x1b[31mred")
    report.checks.append(Check("[green]ok", True, "[/] detail"))
    error = InclusionProofError("[red]boom\x07")
    report.fail("inclusion proof", error)
    out = io.StringIO()
    print_reports(Console(file=out, width=200, color_system=None), [report])
    text = out.getvalue()
    assert "[/bold] \\u001b[31mred" in text and "[green]ok" in text and "[/] detail" in text
    assert "\x1b" not in text and "\x07" not in text
    assert "VERIFICATION FAILED" in text and "inclusion proof failed [inclusion]" in text


def test_no_reports_is_not_ok() -> None:
    assert '"ok": false' in reports_json([])
    out = io.StringIO()
    print_reports(Console(file=out, width=200), [Report("empty")])
    assert "no checks ran" in out.getvalue()
