"""A vault whose seals wait long enough that requests sent together share one batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx
import pytest

from tests.support.live_server import LiveVault, live_vault, make_settings


@pytest.fixture
def slow_seal(db_url: str, tmp_path: Path) -> Iterator[LiveVault]:
    """Seals every 400 ms: two requests sent at once pass their checks and then race in
    one seal, which is where the preconditions must decide."""
    with live_vault(make_settings(tmp_path / "vault", db_url, seal_interval_ms=400)) as lv:
        yield lv


def together(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run the calls at the same moment (a barrier releases them together)."""
    barrier = Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def ok(r: httpx.Response) -> Any:
    assert r.is_success, r.text
    return r.json()
