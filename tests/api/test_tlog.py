"""The vault serves its ledger as C2SP tlog-tiles under /tlog/ (read with the spec's client)."""

from __future__ import annotations

import json
import time

import httpx

from tests.support.live_server import LiveVault
from tests.support.tlog_reader import TileReader, leaf, root_from_path, verify_checkpoint


def _fetch(http: httpx.Client):  # type: ignore[no-untyped-def]
    def get(path: str) -> bytes:
        r = http.get(f"/tlog/{path}")
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/octet-stream"
        return r.content

    return get


def test_tiles_served_checkpoint_and_hashes_public_entries_for_auditors(
    module_live: LiveVault,
) -> None:
    with module_live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "tlog case", "severity": "P2"})
        assert r.status_code == 201, r.text
    sealed = int(r.json()["receipt"]["leaf_index"])
    log_key = module_live.vault.ledger.log_key
    with module_live.client() as anon, module_live.client("auditor") as auditor:
        # The published checkpoint may lag a seal by the publication interval.
        deadline = time.monotonic() + 10 * module_live.settings.tlog_interval_ms / 1000 + 5
        while True:
            r = anon.get("/tlog/checkpoint")
            assert r.status_code in (200, 404)  # 404: nothing published yet
            size = verify_checkpoint(r.content, log_key).size if r.status_code == 200 else 0
            if size > sealed or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.status_code == 200
        cp = verify_checkpoint(r.content, log_key)
        assert cp.size > sealed
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        tiles = TileReader(_fetch(anon), cp.size)
        assert tiles.root() == cp.root
        last = cp.size - 1
        bundle = f"tile/entries/{last // 256:03d}" + (
            "" if cp.size % 256 == 0 else f".p/{cp.size % 256}"
        )
        assert anon.get(f"/tlog/{bundle}").status_code == 401
        assert module_live.client("collector").get(f"/tlog/{bundle}").status_code == 403
        entry = TileReader(_fetch(auditor), cp.size).entries(last // 256)[last % 256]
        assert json.loads(entry)["case"]
        assert root_from_path(last, cp.size, leaf(entry), tiles.inclusion(last)) == cp.root
        assert anon.get("/tlog/tile/0/999").status_code == 404
        assert anon.get("/tlog/tile/0/../../keys").status_code == 404
