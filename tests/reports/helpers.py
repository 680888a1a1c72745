"""Reading back what the vault recorded about issued reports, and the text of a PDF."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.reports.models import CaseReport
from tests.reports.conftest import Scenario
from tests.support.live_server import LiveVault
from verify.events import chain_key, decode_event


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text in content order (each table cell whole), as poppler extracts it."""
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: install poppler-utils (scripts/services.sh does)")
    path = tmp_path / "report-text.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return out.stdout.decode()


def squashed(text: str) -> str:
    """Text with all whitespace removed: long hashes and commands wrap across lines."""
    return re.sub(r"\s+", "", text)


def case_events(live: LiveVault, case_id: str, type_: str | None = None) -> list[dict[str, Any]]:
    out = []
    for e in live.vault.ledger.chain(chain_key(case_id, None)):
        ev = decode_event(e.canonical)
        if type_ is None or ev.type == type_:
            out.append({"index": e.index, **ev.as_json()})
    return out


def attached_json(pdf: bytes, tmp_path: Path) -> bytes:
    """The report.json attached to a signed PDF report, as pdfdetach extracts it."""
    path = tmp_path / "attached.pdf"
    path.write_bytes(pdf)
    out = tmp_path / "attached-report.json"
    subprocess.run(["pdfdetach", "-savefile", "report.json", "-o", str(out), str(path)], check=True)
    raw = out.read_bytes()
    json.loads(raw)
    return raw


def run_recheck(
    live: LiveVault, sc: Scenario, pdf: bytes, roots: dict[str, bytes], tmp_path: Path
) -> dict[str, str]:
    """Run a PDF report's re-check commands verbatim in a clean directory, as an auditor
    would, holding only the PDF, copies of the evidence, the pinned roots and a token for
    fetching receipts. Every command must succeed and say so; returns each one's output."""
    for tool in ("openssl", "pdfdetach", "jq", "sha256sum", "curl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (scripts/services.sh installs it)")
    report = CaseReport.model_validate_json(attached_json(pdf, tmp_path))
    work = tmp_path / "auditor"
    work.mkdir()
    (work / f"{sc.case_id}-custody-report.pdf").write_bytes(pdf)
    for name, pem in roots.items():
        (work / name).write_bytes(pem)
    for art in report.artifacts:
        (work / art.file_name).write_bytes(sc.files[art.id])
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "LOCARD_SERVER": live.url,
        "LOCARD_TOKEN": live.tokens["auditor"],
    }
    outputs: dict[str, str] = {}
    indices = [e.index for a in report.artifacts for e in a.events]
    indices += [e.index for e in report.case_events]
    for cmd in report.recheck:
        lines = [cmd.command]
        if "receipt-N" in cmd.command:  # the template: run it for every event of the case
            lines = [cmd.command.replace("-N.", f"-{i}.").replace("/N?", f"/{i}?") for i in indices]
        for line in lines:
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", line], cwd=work, env=env, capture_output=True
            )
            out = done.stdout.decode() + done.stderr.decode()
            assert done.returncode == 0, f"{line}\n{out}"
            outputs[line] = out

    def only(prefix: str) -> list[str]:
        found = [v for k, v in outputs.items() if k.startswith(prefix)]
        assert found, f"no {prefix!r} command in the report"
        return found

    assert all("Verification: OK" in v for v in only("openssl ts -verify"))
    assert len(only("openssl ts -verify")) == len(report.anchor.timestamps)
    pinned = {h for t in report.vault.tsas for h in t.root_sha256}
    for out in only("openssl x509"):
        assert out.split("=", 1)[1].strip().replace(":", "").lower() in pinned
    assert only("printf 'test")[0].split()[0] == report.anchor.body_sha256
    assert only("sha256sum")[0].split()[0] == hashlib.sha256(pdf).hexdigest()
    assert all("judged VALID" in v for v in only("pyhanko sign "))
    receipts = only("locard verify receipt-")
    assert len(receipts) == len(indices) + len(report.artifacts)
    # The printed commands pin the vault's key and TSA root: an unpinned run would say
    # "NOT VERIFIED (unpinned)" and exit 3, failing the returncode check above.
    for out in receipts + only(f"locard verify {sc.case_id}-bundle"):
        assert "VERIFIED — every check passed" in out and "NOT VERIFIED" not in out, out
    return outputs
