"""axe-core for the page audit: installed with `npm ci` from the committed lock file into
tests/web/axe/node_modules (git-ignored), once per machine, under a file lock so that two
test workers do not install it at the same time."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent / "axe"
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
#: what the audit refuses; minor and moderate findings are reported, not failed
BLOCKING = ("serious", "critical")


def install_axe() -> Path:
    if AXE_JS.is_file():
        return AXE_JS
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is required in CI for the accessibility audit (apt: npm)")
        pytest.skip("npm not installed (apt-get install npm)")
    with open(HERE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not AXE_JS.is_file():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=HERE,
                check=True,
                capture_output=True,
                timeout=300,
            )
    return AXE_JS


def audit(page: Page, axe_js: Path) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds on the page as it stands."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_js))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:5]],
        }
        for v in result["violations"]
        if v.get("impact") in BLOCKING
    ]
