"""How far a collection has got: files and bytes sealed of the whole (issue 17)."""

from __future__ import annotations

import hashlib

from tests.api.helpers import untouched
from tests.collectors.builders import Velociraptor
from tests.support.live_server import LiveVault


def test_progress_counts_files_and_bytes_of_a_collection(vault: LiveVault, case: str) -> None:
    body = Velociraptor(hostname="WS-PROGRESS").build()
    sha = hashlib.sha256(body).hexdigest()
    with vault.client("collector") as c:
        assert (
            c.get(f"/v1/cases/{case}/collections/progress", params={"sha256": sha}).status_code
            == 404
        )
        r = c.post(f"/v1/cases/{case}/collections", params={"file_name": "p.zip"}, content=body)
        assert r.status_code == 201, r.text
        doc = r.json()
        p = c.get(f"/v1/cases/{case}/collections/progress", params={"sha256": sha.upper()})
    assert p.status_code == 200, p.text
    got = p.json()
    files = len(doc["items"]) + len(doc["provenance"])
    assert got["state"] == "finished" and got["container"] == doc["container"]["id"]
    assert got["files_done"] == got["files_total"] == files == 6
    assert got["bytes_done"] == got["bytes_total"] == doc["bytes"] > 0
    assert got["resumed"] == doc["resumed"] == 0


def test_progress_refuses_a_bad_hash_and_writes_nothing(vault: LiveVault, case: str) -> None:
    with untouched(vault), vault.client("collector") as c:
        for bad in ("xyz", "0" * 63, "g" * 64):
            r = c.get(f"/v1/cases/{case}/collections/progress", params={"sha256": bad})
            assert r.status_code in (400, 422), r.text
        assert c.get(f"/v1/cases/{case}/collections/progress").status_code == 422
