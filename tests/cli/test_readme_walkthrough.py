"""The README's walkthroughs (one per role) run, command by command, against a live vault.

A newcomer has only the README: every fenced block marked ```sh walkthrough=<role>``` is
run as written, in a fresh shell per role, from one scratch directory, with `locard`,
curl and jq on the PATH and the environment the README's setup block names. A command
that fails fails the test, naming the role and the command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live_server import live_vault, make_settings

README = Path(__file__).resolve().parents[2] / "README.md"
ROLES = ("admin", "collector", "legal", "auditor")
_FENCE = re.compile(r"^```sh walkthrough=(\w+)\n(.*?)^```$", re.M | re.S)
_SETUP = re.compile(r"^```sh\n(export LOCARD_DATA_DIR=.*?)^```$", re.M | re.S)


def commands(block: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comments and blanks dropped."""
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append((pending + line).strip())
        pending = ""
    assert not pending, f"a block ends inside a continued line: {pending!r}"
    return out


def walkthroughs(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for role, block in _FENCE.findall(text):
        assert role not in found, f"two walkthrough blocks for {role}"
        found[role] = commands(block)
    return found


def script(cmds: list[str]) -> str:
    """One shell running the commands in order; the first failure stops it, named."""
    lines = ["set -Eeuo pipefail", "trap 'echo \"README command failed: $BASH_COMMAND\" >&2' ERR"]
    for cmd in cmds:
        lines.append(f"echo {shlex.quote(f'$ {cmd}')} >&2")
        lines.append(cmd)  # alone on its line: a trailing comment cannot hide what follows
    return "\n".join(lines) + "\n"


def test_every_role_has_a_walkthrough_and_the_setup_names_the_environment() -> None:
    text = README.read_text()
    assert set(walkthroughs(text)) == set(ROLES)
    [setup] = _SETUP.findall(text)
    names = re.findall(r"^export (\w+)=", setup, re.M)
    assert names == ["LOCARD_DATA_DIR", "LOCARD_SERVER"]  # what the test provides below


def test_commands_join_continuations_and_skip_comments() -> None:
    block = "# note\nfoo a \\\n    b\n\nbar\n"
    assert commands(block) == ["foo a      b", "bar"]


def test_a_failing_command_stops_the_walkthrough_and_is_named(tmp_path: Path) -> None:
    run = subprocess.run(
        ["bash", "-c", script(["echo one", "false   # a comment", "echo never"])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode != 0 and run.stdout == "one\n"
    assert "README command failed: false" in run.stderr


@pytest.mark.slow
def test_readme_walkthroughs_run_against_a_live_vault(tmp_path: Path) -> None:
    data = tmp_path / "locard-data"
    settings = make_settings(data, f"sqlite:///{data / 'locard.db'}")
    scratch = tmp_path / "work"
    scratch.mkdir()
    steps = walkthroughs(README.read_text())
    with live_vault(settings, users=False) as live:
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "LOCARD_DATA_DIR": str(data),
            "LOCARD_SERVER": live.url,
        }
        outputs: dict[str, str] = {}
        for role in ROLES:
            run = subprocess.run(
                ["bash", "-c", script(steps[role])],
                cwd=scratch,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert run.returncode == 0, f"{role} walkthrough:\n{run.stderr}\n{run.stdout}"
            outputs[role] = run.stdout

    # What the commands left behind is what the README says they do.
    listing = dict(re.findall(r"^(\w+) (admin|collector|legal|auditor)$", outputs["admin"], re.M))
    assert outputs["admin"].startswith("ok\n")  # /healthz
    assert listing == {"root": "admin", "alice": "collector", "carol": "legal", "dave": "auditor"}
    case = json.loads((scratch / "case.json").read_text())["case"]
    assert case["id"].startswith("IR-")
    assert json.loads((scratch / "hold.json").read_text())["case"]["legal_hold"] is True
    assert (scratch / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert (scratch / "case.zip").stat().st_size > 3_000_000  # it holds the uploaded bytes
    assert "VERIFIED" in outputs["auditor"]
    assert json.loads((scratch / "witness.json").read_text())
