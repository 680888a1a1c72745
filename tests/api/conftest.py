from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import LiveVault, live_vault, make_settings


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[LiveVault]:
    """A running vault (SQLite or PostgreSQL) with one principal per role, named after it."""
    with live_vault(make_settings(tmp_path / "vault", db_url)) as lv:
        yield lv


@pytest.fixture
def case_id(live: LiveVault) -> str:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Ransomware on FS01", "severity": "P1"})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])
