"""A collection killed mid-ingest (SIGKILL at `collection.item_sealed`), then sent again:
it resumes where it stopped, and no file is ingested twice (issue 17).

At the kill some files are sealed with their collector events, some only ingested,
some stored or unread. Sent again, the container finds its run (derived artifact ids),
the sealed files are not ingested again, the ones sealed without their collector
events get them, and the one `collector.container` links every item chain.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.collectors.builders import T0, Velociraptor, VrFile
from tests.crash.harness import CrashVault, new_case

FILES = 150


def _collection() -> tuple[bytes, list[VrFile]]:
    files = [
        VrFile(rf"C:\Users\u{i % 7}\AppData\f{i:04d}.bin", os.urandom(64 + i), T0)
        for i in range(FILES)
    ]
    files[5].recorded_sha256 = "ab" * 32  # a collector hash that differs: one mismatch
    files.append(VrFile(r"C:\gone.txt", b"never copied", T0, in_zip=False))  # missing
    return Velociraptor(files=files).build(), files


def _post(c: httpx.Client, case: str, data: bytes) -> httpx.Response:
    return c.post(f"/v1/cases/{case}/collections", params={"file_name": "WS-01.zip"}, content=data)


def test_interrupted_collection_resumes_without_double_ingest(tmp_path: Path) -> None:
    v = CrashVault(tmp_path, f"sqlite:///{tmp_path / 'locard.db'}")
    data, files = _collection()
    with v.serve(crash_at="collection.item_sealed") as (url, proc), v.client(url, v.collector) as c:
        case, _ = new_case(c, "collection killed mid-ingest")
        with pytest.raises(httpx.TransportError):
            _post(c, case, data)
        assert proc.wait(30) == -signal.SIGKILL
    assert "crash point collection.item_sealed reached" in v.log.read_text()
    sealed_before = v.db("SELECT count(*) FROM artifacts WHERE ingest_index IS NOT NULL")[0][0]
    # the container, its four provenance files and at least one item
    assert sealed_before >= 6, sealed_before
    # at least one file is complete, and the collection is not: how far the other files
    # got (ingest sealed without its collector events, stored, unread) is up to timing
    told = v.db("SELECT count(*) FROM ledger_events WHERE type = 'collector.item'")[0][0]
    assert 1 <= told < FILES, told
    assert not v.db("SELECT 1 FROM ledger_events WHERE type = 'collector.container'")

    with v.serve() as (url, _), v.client(url, v.collector, timeout=300) as c:
        r = _post(c, case, data)
        assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["resumed"] >= 5  # provenance and at least one item came from the first run
        assert len(doc["items"]) == FILES
        assert doc["bytes"] == sum(len(f.data) for f in files if f.in_zip) + sum(
            p["size"] for p in doc["provenance"]
        )
        kinds = sorted(m["kind"] for m in doc["mismatches"])
        assert kinds == ["hash", "missing_file"]
        progress = c.get(
            f"/v1/cases/{case}/collections/progress",
            params={"sha256": hashlib.sha256(data).hexdigest()},
        ).json()
        assert progress["state"] == "finished" and progress["resumed"] == doc["resumed"]
        assert progress["files_done"] == progress["files_total"] == FILES + 4
        entries = [e["event"] for e in v.entries(url)]

    # each member is exactly one artifact: one ingest per file's bytes, across both runs
    ingests = Counter(e["body"]["sha256"] for e in entries if e["type"] == "ingest")
    for f in files:
        if f.in_zip:
            assert ingests[hashlib.sha256(f.data).hexdigest()] == 1, f.path
    assert ingests[hashlib.sha256(data).hexdigest()] == 1  # the container too
    by_item: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        if e.get("item"):
            by_item.setdefault(e["item"], []).append(e)
    items = [i["artifact"] for i in doc["items"]]
    assert len(set(items)) == FILES
    for art in items:
        types = [e["type"] for e in by_item[art]]
        # its ingest first, then its collector facts, each once
        assert types[0] == "ingest" and types.count("ingest") == 1, types
        assert types.count("collector.item") == 1, types
    mismatches = [e for e in entries if e["type"] == "collector.mismatch"]
    assert sorted(e["body"]["kind"] for e in mismatches) == ["hash", "missing_file"]
    # the one container-level event links every item chain
    closing = [e for e in entries if e["type"] == "collector.container"]
    assert len(closing) == 1
    assert closing[0]["item"] == doc["container"]["id"]
    assert sorted(closing[0]["body"]["items"]) == sorted(items)
    assert closing[0]["body"]["mismatches"] == 2
    audit = v.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr
