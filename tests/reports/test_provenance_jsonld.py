"""The CASE/UCO JSON-LD export, validated by CASE's own SHACL validator (case-utils)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.reports.conftest import populate
from tests.reports.helpers import case_events
from tests.support.live_server import LiveVault

CASE_VALIDATE = Path(sys.executable).parent / "case_validate"


def _by_type(graph: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [n for n in graph if n["@type"] == type_]


def _ids(refs: list[dict[str, str]]) -> set[str]:
    return {r["@id"] for r in refs}


def test_provenance_export_validates_and_follows_custody(
    live_sqlite: LiveVault, tmp_path: Path
) -> None:
    live = live_sqlite
    sc = populate(live)
    with live.client("legal") as c:
        r = c.get(f"/v1/cases/{sc.case_id}/provenance.jsonld")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/ld+json")
    doc = json.loads(r.content)

    # CASE's validator (pySHACL over the CASE 1.x ontology), with no network.
    path = tmp_path / "provenance.jsonld"
    path.write_bytes(r.content)
    validator = str(CASE_VALIDATE) if CASE_VALIDATE.exists() else shutil.which("case_validate")
    if validator is None:
        pytest.fail("case_validate is missing: pip install case-utils (the test extra has it)")
    done = subprocess.run([validator, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Conforms: True" in done.stdout

    graph = doc["@graph"]
    ids = [n["@id"] for n in graph]
    assert len(ids) == len(set(ids))
    [investigation] = _by_type(graph, "case-investigation:Investigation")
    assert investigation["uco-core:name"] == sc.case_id
    members = _ids(investigation["uco-core:object"])

    files = {
        f["uco-core:description"].split()[-1]: f for f in _by_type(graph, "uco-observable:File")
    }
    assert set(files) == set(sc.artifacts)
    nodes = {n["@id"]: n for n in graph}
    for art_id, data in sc.files.items():
        f = files[art_id]
        assert f["@id"] in members
        facet = next(
            nodes[x["@id"]]
            for x in f["uco-core:hasFacet"]
            if nodes[x["@id"]]["@type"] == "uco-observable:ContentDataFacet"
        )
        hashes = {
            nodes[h["@id"]]["uco-types:hashMethod"]: nodes[h["@id"]]["uco-types:hashValue"][
                "@value"
            ]
            for h in facet["uco-observable:hash"]
        }
        assert hashes == {
            "SHA256": hashlib.sha256(data).hexdigest(),
            "SHA1": hashlib.sha1(data).hexdigest(),
            "MD5": hashlib.md5(data).hexdigest(),
        }
        assert facet["uco-observable:sizeInBytes"] == len(data)

    # Custody as provenance records: the first artifact was ingested, then transferred.
    first = next(iter(sc.artifacts))
    records = [
        p
        for p in _by_type(graph, "case-investigation:ProvenanceRecord")
        if p["case-investigation:rootExhibitNumber"] == first
    ]
    assert len(records) == 2
    ingest_record, transfer_record = sorted(
        records, key=lambda p: p["uco-core:objectCreatedTime"]["@value"]
    )
    assert ingest_record["case-investigation:exhibitNumber"] == first
    assert "legal" in transfer_record["uco-core:description"]
    actions = _by_type(graph, "case-investigation:InvestigativeAction")
    [transfer] = [a for a in actions if a["uco-core:name"] == "Custody transfer"]
    assert _ids(transfer["uco-action:object"]) == {ingest_record["@id"]}
    assert _ids(transfer["uco-action:result"]) == {transfer_record["@id"]}
    accesses = [a for a in actions if a["uco-core:name"] == "Evidence access"]
    assert len(accesses) == 3
    for reason in sc.reasons:
        assert any(reason in a["uco-core:description"] for a in accesses)
    ingests = [a for a in actions if a["uco-core:name"] == "Evidence ingest"]
    assert len(ingests) == 2
    [hold] = [a for a in actions if a["uco-core:name"] == "Legal hold set"]
    assert sc.hold_reason in hold["uco-core:description"]
    [containment] = _by_type(graph, "uco-action:Action")
    assert containment["uco-action:actionStatus"] == "Success"
    assert sc.containment_target in containment["uco-core:description"]
    # Every action points at its ledger leaf, so it can be matched to a verifiable receipt.
    refs = _by_type(graph, "uco-core:ExternalReference")
    assert len(refs) == len(actions) + 1
    assert all(r["uco-core:externalIdentifier"].startswith("leaf ") for r in refs)

    [ev] = case_events(live, sc.case_id, "report.issued")
    assert ev["body"]["format"] == "jsonld"
    assert ev["body"]["sha256"] == hashlib.sha256(r.content).hexdigest()


def test_identifiers_are_stable_across_exports(live_sqlite: LiveVault) -> None:
    live = live_sqlite
    sc = populate(live)
    with live.client("legal") as c:
        one = c.get(f"/v1/cases/{sc.case_id}/provenance.jsonld").json()
        two = c.get(f"/v1/cases/{sc.case_id}/provenance.jsonld").json()
    ids_one = {n["@id"] for n in one["@graph"]}
    ids_two = {n["@id"] for n in two["@graph"]}
    # The second export also lists the first export's issuance; nothing else changes.
    assert ids_one < ids_two
    assert len(ids_two - ids_one) == 2  # its action and that action's ledger reference
