"""Concurrent writers on the embedded SQLite database: all succeed, none is lost."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.live_server import live_vault, make_settings


def test_twenty_concurrent_uploaders_on_sqlite(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", f"sqlite:///{tmp_path / 'locard.db'}")
    with live_vault(settings) as live:
        with live.client("collector") as c:
            cid = c.post("/v1/cases", json={"title": "load", "severity": "P4"}).json()["case"]["id"]

        def upload(i: int) -> tuple[int, int]:
            with live.client("collector") as c:
                r = c.post(
                    f"/v1/cases/{cid}/artifacts",
                    params={"file_name": f"f{i}.bin"},
                    content=os.urandom(64 * 1024),
                )
                d = c.get(f"/v1/cases/{cid}/artifacts")
                return r.status_code, d.status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(upload, range(60)))
        assert results == [(201, 200)] * 60
        with live.client("legal") as lg:
            assert len(lg.get(f"/v1/cases/{cid}/artifacts").json()) == 60
