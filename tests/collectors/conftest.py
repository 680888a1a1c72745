from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live_server import LiveVault, live_vault, make_settings

#: small bounds, so that the hostile-container tests stay small too
LIMITS = {"collection_max_members": 50, "collection_max_bytes": 8 << 20, "collection_max_ratio": 50}


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    """One vault per module (SQLite: the subject here is the collector, not the database)."""
    root = tmp_path_factory.mktemp("vault")
    with live_vault(make_settings(root, f"sqlite:///{root / 'locard.db'}", **LIMITS)) as lv:
        yield lv


@pytest.fixture(scope="module")
def case(vault: LiveVault) -> str:
    with vault.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Collector intake", "severity": "P2"})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])
