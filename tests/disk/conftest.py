"""A vault whose data directory (SQLite database, store, upload spool) is on a real 64 MiB
tmpfs: every "disk full" here is the kernel's ENOSPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.support.tmpfs import mounted_tmpfs

MiB = 1 << 20
#: the free space uploads may not take (LOCARD_RESERVE_FREE_BYTES)
RESERVE = 4 * MiB


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", "64m") as mount_point:
        yield mount_point


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tiny(request: pytest.FixtureRequest, disk: Path) -> Iterator[LiveVault]:
    """The vault on the tmpfs. On PostgreSQL the database lives elsewhere and only the
    store and the spool share the small disk."""
    data_dir = disk / "vault"
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'locard.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    settings = make_settings(data_dir, url, reserve_free_bytes=RESERVE)
    with live_vault(settings) as lv:
        yield lv


def new_case(live: LiveVault) -> str:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Ransomware on FS01", "severity": "P1"})
        assert r.status_code == 201, r.text
        case = str(r.json()["case"]["id"])
        r = c.post(f"/v1/cases/{case}/members", json={"principal": "legal"})
        assert r.status_code == 201, r.text
        return case
