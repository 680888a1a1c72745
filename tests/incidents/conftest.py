from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.incidents.events import T0, FixedClock
from tests.support.live_server import LiveVault, live_vault, make_settings


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def live(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[LiveVault]:
    """A running vault whose ledger (event times and "now" for deadlines) uses `clock`."""
    with live_vault(make_settings(tmp_path / "vault", db_url)) as lv:
        lv.vault.ledger.clock = clock
        yield lv
