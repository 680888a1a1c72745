"""Page forms over plain HTTP: a principal signed in through the form, with the CSRF token
its pages carry (for form posts without a browser)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.live_server import LiveVault


@contextmanager
def signed_in(live: LiveVault, role: str) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=live.url, timeout=60, headers={"Origin": live.url}) as c:
        r = c.post("/signin", data={"token": live.tokens[role]})
        assert r.status_code == 303, r.text
        page = c.get("/cases").text
        marker = 'name="csrf" value="'
        start = page.index(marker) + len(marker)
        yield c, page[start : start + 64]
