"""Abuse tests: a live vault per module (both databases), and a server in its own process.

`module_live` comes from the API tests (a module sets `LIVE_SETTINGS`); `served` runs
`locard serve` as a child process, for what only a whole process shows (its memory).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.auth.service import create_principal
from app.settings import Settings
from app.vault import init_vault, open_vault
from tests.api.conftest import module_db_url, module_live  # noqa: F401  (fixtures)
from tests.support.live_server import free_port, make_settings


@dataclass
class Served:
    url: str
    pid: int
    settings: Settings
    token: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = make_settings(tmp_path / "vault", f"sqlite:///{tmp_path / 'locard.db'}")
    init_vault(settings)
    vault = open_vault(settings)
    try:
        _, token = create_principal(vault, "collector", "collector")
    finally:
        vault.close()
    port = free_port()
    env = {
        **os.environ,
        "LOCARD_DATA_DIR": str(settings.data_dir),
        "LOCARD_DATABASE_URL": settings.db_url,
        "LOCARD_ORIGIN": settings.origin,
    }
    locard = Path(sys.executable).parent / "locard"
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(locard), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "serve.log").read_text())
            time.sleep(0.1)
        yield Served(url, proc.pid, settings, token)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
