"""`locard verify` of an exported bundle re-derives the collector-hash checks: the hashes a
collector.item says the vault computed are the item's ingest hashes, and every
disagreement has its collector.mismatch."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path

import pytest

from tests.bundles.conftest import export_api, pinned_policy
from tests.collectors.builders import T0, Velociraptor, VrFile, default_files
from tests.support.live_server import LiveVault
from verify.bundle import verify_bundle
from verify.bundle.collector import check_collector
from verify.errors import ArtifactHashMismatch, MissingEvent
from verify.event_types import EventType
from verify.events import Event, decode_event


@pytest.fixture(scope="module")
def bundle(vault: LiveVault, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with vault.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Bundle of a collection", "severity": "P3"})
        case = r.json()["case"]["id"]
        odd = VrFile(r"C:\Users\alice\odd.txt", b"changed in flight", T0, "cd" * 32)
        body = Velociraptor(files=[*default_files(), odd]).build()
        r = c.post(f"/v1/cases/{case}/collections", content=body)
        assert r.status_code == 201, r.text
    return export_api(vault, case, tmp_path_factory.mktemp("b") / "bundle.zip")


def _events(bundle: Path) -> list[tuple[int, Event]]:
    with zipfile.ZipFile(bundle) as zf:
        found = [
            (int(m.group(1)), decode_event(zf.read(n)))
            for n in zf.namelist()
            if (m := re.fullmatch(r"events/(\d+)\.json", n))
        ]
    return sorted(found, key=lambda p: p[0])


def test_bundle_verifies_and_reports_the_collector_checks(vault: LiveVault, bundle: Path) -> None:
    report = verify_bundle(bundle, pinned_policy(vault))
    assert report.ok, report
    detail = next(c.detail for c in report.checks if c.name == "collector hashes")
    assert "3 collected item(s): 2 match their collector's hashes, 1 differ" in detail
    assert any("differ from the hash their collector recorded" in w for w in report.warnings)


def test_a_claimed_match_the_ingest_contradicts_fails(bundle: Path) -> None:
    events = _events(bundle)
    collector = [(i, e) for i, e in events if e.type.startswith("collector.")]
    ingests = {str(e.item): e for _, e in events if e.type == EventType.ingest}
    check_collector(collector, ingests)  # as sealed: holds
    item = next(e for _, e in collector if e.type == EventType.collector_item)
    forged = dataclasses.replace(
        ingests[str(item.item)], body={**ingests[str(item.item)].body, "sha256": "0" * 64}
    )
    with pytest.raises(ArtifactHashMismatch):
        check_collector(collector, {**ingests, str(item.item): forged})


def test_a_mismatch_left_out_of_the_record_fails(bundle: Path) -> None:
    events = _events(bundle)
    ingests = {str(e.item): e for _, e in events if e.type == EventType.ingest}
    without = [(i, e) for i, e in events if e.type == EventType.collector_item]
    with pytest.raises(MissingEvent):
        check_collector(without, ingests)
