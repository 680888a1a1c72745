"""Velociraptor offline collections (layout as Velociraptor writes it: builders.py):
every upload its own artifact, re-hashed against the collector's SHA-256, provenance
kept, and the container tied to every item chain it produced."""

from __future__ import annotations

import hashlib
import html
from datetime import datetime
from typing import Any

import httpx

from tests.collectors.builders import T0, Velociraptor, VrFile, default_files
from tests.support.live_server import LiveVault


def _post(vault: LiveVault, case: str, body: bytes, **params: str) -> httpx.Response:
    with vault.client("collector") as c:
        return c.post(f"/v1/cases/{case}/collections", params=params, content=body)


def _chain(vault: LiveVault, artifact: str) -> list[dict[str, Any]]:
    with vault.client("auditor") as c:
        r = c.get(f"/v1/artifacts/{artifact}/custody")
        assert r.status_code == 200, r.text
        return [e["event"] for e in r.json()]


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_each_upload_is_its_own_artifact_checked_against_the_collector(
    db_vault: LiveVault, db_case: str
) -> None:
    vault, case = db_vault, db_case
    files = default_files()
    body = Velociraptor(files=files).build()
    r = _post(
        vault,
        case,
        body,
        file_name="Collection-WS-ALICE.zip",
        container_sha256=hashlib.sha256(body).hexdigest(),
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["collector"] == "velociraptor" and doc["mismatches"] == []
    container = doc["container"]
    assert container["sha256"] == hashlib.sha256(body).hexdigest()
    assert container["file_name"] == "Collection-WS-ALICE.zip"
    prov = {p["file_name"]: p for p in doc["provenance"]}
    assert set(prov) == {
        "collection_context.json",
        "client_info.json",
        "log.json",
        "requests.json",
    }
    by_path = {i["source_path"]: i for i in doc["items"]}
    assert set(by_path) == {f.path for f in files}
    for f in files:
        item = by_path[f.path]
        assert item["matches"] is True and item["listed"] is True
        assert item["sha256"] == hashlib.sha256(f.data).hexdigest()
        with vault.client("auditor") as c:
            art = c.get(f"/v1/artifacts/{item['artifact']}").json()
        # the collector's copy time is the item's occurred_at; the host from client_info
        assert _when(art["collected_at"]) == f.copied
        assert art["source_host"] == "WS-ALICE" and art["collection_tool"] == "Velociraptor"
        assert art["file_name"] == f.path.rsplit("\\", 1)[1]
        events = _chain(vault, item["artifact"])
        assert [e["type"] for e in events] == ["ingest", "collector.item"]
        assert _when(events[0]["body"]["occurred_at"]) == f.copied
        rec = events[1]["body"]
        assert rec["container"] == container["id"]
        assert sorted(rec["provenance"]) == sorted(p["id"] for p in doc["provenance"])
        assert rec["source_path"] == f.path
        assert rec["stored_name"].startswith("uploads/auto/C%3A/")
        assert rec["times"] == {
            "created": "2026-01-02T03:04:05+00:00",
            "changed": "2026-10-30T08:00:00+00:00",
            "modified": "2026-10-30T08:00:00+00:00",
            "accessed": "2026-11-02T17:45:12+00:00",
        }
        digest = hashlib.sha256(f.data).hexdigest()
        assert rec["checks"] == [{"algorithm": "sha256", "recorded": digest, "computed": digest}]
    # one container-level event names the container's hash and links every item chain
    events = _chain(vault, container["id"])
    assert [e["type"] for e in events] == ["ingest", "collector.container"]
    closing = events[1]["body"]
    assert closing["sha256"] == closing["logged_sha256"] == container["sha256"]
    assert sorted(closing["items"]) == sorted(i["artifact"] for i in doc["items"])
    assert closing["mismatches"] == 0
    assert doc["receipt"]["leaf_index"] >= 0


def test_mismatches_are_stored_and_each_recorded_as_an_event(
    db_vault: LiveVault, db_case: str
) -> None:
    vault, case = db_vault, db_case
    tampered, absent, unlisted = (
        VrFile(r"C:\Users\alice\Desktop\notes.txt", b"changed while copied", T0, "ab" * 32),
        VrFile(r"C:\Windows\Prefetch\EVIL.EXE-1234.pf", b"SCCA", T0, in_zip=False),
        VrFile(r"C:\Temp\dropped.bin", b"\x00stray", T0, in_rows=False),
    )
    body = Velociraptor(files=[*default_files(), tampered, absent, unlisted]).build()
    r = _post(vault, case, body, file_name="mixed.zip")
    assert r.status_code == 201, r.text
    doc = r.json()
    found = {(m["kind"], m["name"]): m for m in doc["mismatches"]}
    assert set(found) == {
        ("hash", tampered.path),
        ("missing_file", absent.path),
        ("unlisted_file", "uploads/auto/C%3A/Temp/dropped.bin"),
    }
    bad = found[("hash", tampered.path)]
    assert bad["recorded"] == "ab" * 32
    assert bad["computed"] == hashlib.sha256(tampered.data).hexdigest()
    # the bytes are stored all the same, and the item's chain says what disagreed
    item = next(i for i in doc["items"] if i["source_path"] == tampered.path)
    assert item["matches"] is False and item["artifact"] == bad["artifact"]
    assert item["sha256"] == hashlib.sha256(tampered.data).hexdigest()
    events = _chain(vault, item["artifact"])
    assert [e["type"] for e in events] == ["ingest", "collector.item", "collector.mismatch"]
    assert events[2]["body"]["kind"] == "hash"
    stray = next(i for i in doc["items"] if not i["listed"])
    assert [e["type"] for e in _chain(vault, stray["artifact"])][-1] == "collector.mismatch"
    # a file the collector listed but did not deliver: on the container's chain
    events = _chain(vault, doc["container"]["id"])
    assert [e["type"] for e in events] == ["ingest", "collector.mismatch", "collector.container"]
    assert events[1]["body"]["kind"] == "missing_file"
    assert events[2]["body"]["mismatches"] == 3
    # shown on the case: the timeline says so in words
    with vault.client("auditor") as c:
        timeline = c.get(f"/v1/cases/{case}/timeline").json()
    text = "\n".join(str(e.get("summary")) for e in timeline["entries"])
    assert f"MISMATCH velociraptor: {tampered.path}" in text
    assert "listed by the collector but absent from the container" in text
    # ... on the artifact's page and in the custody report
    with vault.client("auditor") as c:
        page = c.get(f"/artifacts/{item['artifact']}")
        report = c.get(f"/v1/cases/{case}/report.json")
    assert page.status_code == 200, page.text
    assert f"MISMATCH velociraptor: {tampered.path}" in html.unescape(page.text)
    assert report.status_code == 200, report.text
    said = f"MISMATCH velociraptor: {tampered.path} hash differs from the collector's"
    assert any(x.startswith(said) for x in _summaries(report.json()))


def _summaries(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        own = [doc["summary"]] if isinstance(doc.get("summary"), str) else []
        return own + [s for v in doc.values() for s in _summaries(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in _summaries(v)]
    return []
