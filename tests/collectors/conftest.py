from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import fresh_pg_database
from tests.support.live_server import LiveVault, live_vault, make_settings

#: small bounds, so that the hostile-container tests stay small too
LIMITS = {"collection_max_members": 50, "collection_max_bytes": 8 << 20, "collection_max_ratio": 50}


def _case(vault: LiveVault) -> str:
    with vault.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Collector intake", "severity": "P2"})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    """One vault per module (SQLite: the subject here is the collector, not the database)."""
    root = tmp_path_factory.mktemp("vault")
    with live_vault(make_settings(root, f"sqlite:///{root / 'locard.db'}", **LIMITS)) as lv:
        yield lv


@pytest.fixture(scope="module")
def case(vault: LiveVault) -> str:
    return _case(vault)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def db_vault(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveVault]:
    """The same on each database: items are ingested by concurrent workers."""
    root: Path = tmp_path_factory.mktemp("vault")
    if request.param == "sqlite":
        with live_vault(make_settings(root, f"sqlite:///{root / 'locard.db'}", **LIMITS)) as lv:
            yield lv
        return
    with (
        fresh_pg_database(request.getfixturevalue("pg_admin")) as url,
        live_vault(make_settings(root, url, **LIMITS)) as lv,
    ):
        yield lv


@pytest.fixture(scope="module")
def db_case(db_vault: LiveVault) -> str:
    return _case(db_vault)
