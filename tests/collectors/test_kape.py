"""KAPE target output, zipped: each copied file checked against the SourceFileSha1 of
the copy log (a CSV with a byte order mark), the logs kept as provenance."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.collectors.builders import KAPE_STAMP, Kape, KapeFile, default_kape_files
from tests.support.live_server import LiveVault


def _post(vault: LiveVault, case: str, body: bytes) -> httpx.Response:
    with vault.client("collector") as c:
        return c.post(
            f"/v1/cases/{case}/collections", params={"file_name": "kape.zip"}, content=body
        )


def _chain(vault: LiveVault, artifact: str) -> list[dict[str, Any]]:
    with vault.client("auditor") as c:
        return [e["event"] for e in c.get(f"/v1/artifacts/{artifact}/custody").json()]


def test_copied_files_checked_against_the_copy_log(vault: LiveVault, case: str) -> None:
    files = default_kape_files()
    r = _post(vault, case, Kape(files=files).build())
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["collector"] == "kape" and doc["mismatches"] == []
    assert {p["file_name"] for p in doc["provenance"]} == {
        f"{KAPE_STAMP}_CopyLog.csv",
        f"{KAPE_STAMP}_SkipLog.csv",
        f"{KAPE_STAMP}_ConsoleLog.txt",
    }
    by_source = {i["source_path"]: i for i in doc["items"]}
    assert set(by_source) == {f.source for f in files}
    for f in files:
        item = by_source[f.source]
        assert item["matches"] is True
        events = _chain(vault, item["artifact"])
        assert [e["type"] for e in events] == ["ingest", "collector.item"]
        occurred = datetime.fromisoformat(events[0]["body"]["occurred_at"])
        assert occurred == datetime(2026, 11, 3, 9, 15, 2, 123456, tzinfo=UTC)
        rec = events[1]["body"]
        assert rec["stored_name"] == f.member
        assert rec["times"]["modified"] == "2026-10-30T08:00:00+00:00"
        sha1 = hashlib.sha1(f.data).hexdigest()
        assert rec["checks"] == [{"algorithm": "sha1", "recorded": sha1, "computed": sha1}]


def test_kape_mismatches_recorded_and_stored(vault: LiveVault, case: str) -> None:
    changed = KapeFile(r"C:\Windows\Temp\a.log", b"rewritten", recorded_sha1="0" * 40)
    gone = KapeFile(r"C:\Windows\Temp\b.log", b"never zipped", in_zip=False)
    extra = KapeFile(r"C:\Windows\Temp\c.log", b"no row", in_log=False)
    r = _post(vault, case, Kape(files=[*default_kape_files(), changed, gone, extra]).build())
    assert r.status_code == 201, r.text
    kinds = {(m["kind"], m["name"]) for m in r.json()["mismatches"]}
    assert kinds == {
        ("hash", changed.source),
        ("missing_file", gone.source),
        ("unlisted_file", extra.member),
    }
    item = next(i for i in r.json()["items"] if i["source_path"] == changed.source)
    assert item["sha256"] == hashlib.sha256(changed.data).hexdigest()
    assert [e["type"] for e in _chain(vault, item["artifact"])][-1] == "collector.mismatch"
