"""Fixtures for resumable uploads: a live vault, a case, and "nothing changed" snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import LiveVault, live_vault, make_settings


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[LiveVault]:
    """A running vault on SQLite and on PostgreSQL, one principal per role."""
    with live_vault(make_settings(tmp_path / "vault", db_url)) as lv:
        yield lv


@pytest.fixture
def live_sqlite(tmp_path: Path) -> Iterator[LiveVault]:
    """The same on SQLite only, for tests whose subject is not the database."""
    url = f"sqlite:///{tmp_path / 'locard.db'}"
    with live_vault(make_settings(tmp_path / "vault", url)) as lv:
        yield lv


def new_case(live: LiveVault, role: str = "collector") -> str:
    with live.client(role) as c:
        r = c.post("/v1/cases", json={"title": "Ransomware on FS01", "severity": "P1"})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])


@pytest.fixture
def case_id(live: LiveVault) -> str:
    return new_case(live)
