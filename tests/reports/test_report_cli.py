"""`locard report CASE`: fetches (so issues) the report over HTTP and saves it whole."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.reports.models import CaseReport
from cli.main import app
from tests.reports.conftest import populate
from tests.reports.helpers import case_events
from tests.support.live_server import LiveVault


def test_report_command_saves_the_signed_pdf(live_sqlite: LiveVault, tmp_path: Path) -> None:
    live = live_sqlite
    sc = populate(live)
    out = tmp_path / "report.pdf"
    result = CliRunner().invoke(
        app,
        ["report", sc.case_id, "-o", str(out)],
        env={"LOCARD_SERVER": live.url, "LOCARD_TOKEN": live.tokens["legal"]},
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sha256"] == hashlib.sha256(data).hexdigest()
    [ev] = case_events(live, sc.case_id, "report.issued")
    assert ev["body"]["sha256"] == summary["sha256"]
    assert summary["event_index"] == ev["index"]  # a number, as in every other JSON
    assert 0 < summary["checkpoint"] <= ev["index"]  # the anchor, sealed before the issuance


def test_report_command_json_and_default_name(
    live_sqlite: LiveVault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = live_sqlite
    sc = populate(live)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app,
        ["report", sc.case_id, "--format", "json", "--server", live.url],
        env={"LOCARD_TOKEN": live.tokens["auditor"]},
    )
    assert result.exit_code == 0, result.output
    saved = tmp_path / f"{sc.case_id}-custody-report.json"
    report = CaseReport.model_validate_json(saved.read_bytes())
    assert report.case.id == sc.case_id and report.all_checks_passed


def test_report_command_refusals_leave_no_file(live_sqlite: LiveVault, tmp_path: Path) -> None:
    live = live_sqlite
    sc = populate(live)
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "nope.pdf"
    runner = CliRunner()
    refused = runner.invoke(
        app,
        ["report", sc.case_id, "-o", str(out), "--server", live.url],
        env={"LOCARD_TOKEN": live.tokens["collector"]},
    )
    assert refused.exit_code == 1
    assert "403" in refused.output and not out.exists()
    no_token = runner.invoke(
        app, ["report", sc.case_id, "-o", str(out), "--server", live.url], env={"LOCARD_TOKEN": ""}
    )
    assert no_token.exit_code == 2 and "token" in no_token.output
    unreachable = runner.invoke(
        app,
        ["report", sc.case_id, "-o", str(out), "--server", "http://127.0.0.1:9", "--token", "x"],
    )
    assert unreachable.exit_code == 1 and "cannot reach" in unreachable.output
    assert not out.exists()
    assert list(outdir.iterdir()) == []  # no partial file either
