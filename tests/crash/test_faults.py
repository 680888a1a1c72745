"""The crash point itself: inert unless armed with its exact name, SIGKILL when it is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from custody.faults import ENV, crash_point
from tests.api.test_crash import REPO

SCRIPT = "from custody.faults import crash_point; crash_point('seal.after_commit'); print('alive')"


def run(armed: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if armed is not None:
        env[ENV] = armed
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=REPO, capture_output=True, text=True
    )


def test_inert_in_process_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    crash_point("seal.after_commit")  # still here
    monkeypatch.setenv(ENV, "seal.before_commit")
    crash_point("seal.after_commit")  # another point is armed: still here


def test_unarmed_and_other_points_do_nothing() -> None:
    for armed in (None, "", "seal.after_archive", "seal.after_commit.x"):
        done = run(armed)
        assert (done.returncode, done.stdout) == (0, "alive\n"), armed


def test_armed_point_is_a_sigkill() -> None:
    done = run("seal.after_commit")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == ""
    assert "crash point seal.after_commit reached" in done.stderr
