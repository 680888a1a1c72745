"""Identical bytes are stored once, but every upload is its own artifact and ingest event."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.api.helpers import live_verifier
from tests.support.live_server import LiveVault


def _objects(live: LiveVault) -> set[Path]:
    return set((live.settings.store_dir / "objects").rglob("*")) - {
        p for p in (live.settings.store_dir / "objects").rglob("*") if p.is_dir()
    }


def test_same_bytes_in_two_cases(module_live: LiveVault) -> None:
    live = module_live
    data = b"PK\x03\x04" + hashlib.sha512(b"dedup").digest() * 2000
    digest = hashlib.sha256(data).hexdigest()
    verifier = live_verifier(live)
    with live.client("collector") as c:
        cases = [
            c.post("/v1/cases", json={"title": f"case {i}", "severity": "P3"}).json()["case"]["id"]
            for i in range(2)
        ]
        before = _objects(live)
        results = []
        for case in cases:
            r = c.post(
                f"/v1/cases/{case}/artifacts",
                params={"file_name": "payload.zip", "sha256": digest},
                content=data,
            )
            assert r.status_code == 201, r.text
            results.append(r.json())
        new = _objects(live) - before
        # one object, at its content address, holding the bytes
        assert [p.relative_to(live.settings.store_dir).as_posix() for p in new] == [
            f"objects/sha256/{digest}"
        ]
        assert new.pop().read_bytes() == data

        first, second = (res["artifact"] for res in results)
        assert first["id"] != second["id"]
        assert [first["case_id"], second["case_id"]] == cases
        events = [res["receipt"]["event"] for res in results]
        assert [e["type"] for e in events] == ["ingest", "ingest"]
        assert [e["item"] for e in events] == [first["id"], second["id"]]
        # Whether another case holds the same bytes is not this case's fact (ingest v2)
        assert all("deduplicated" not in e["body"] and e["body"]["v"] == 3 for e in events)
        assert events[0]["body"]["object_key"] == events[1]["body"]["object_key"]
        for res in results:
            assert verifier.verify_receipt(res["receipt"]).ok
            listed = c.get(f"/v1/cases/{res['artifact']['case_id']}/artifacts").json()
            assert [a["id"] for a in listed] == [res["artifact"]["id"]]
            got = c.get(
                f"/v1/artifacts/{res['artifact']['id']}/content", params={"reason": "dedup"}
            )
            assert got.status_code == 200 and got.content == data
