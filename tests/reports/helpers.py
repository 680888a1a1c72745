"""Reading back what the vault recorded about issued reports, and the text of a PDF."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

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
