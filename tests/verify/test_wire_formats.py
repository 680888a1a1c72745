"""Each wire format has one definition: what its writer produces, its reader takes back whole."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

import verify
from verify.bundle import (
    BUNDLE_FORMAT,
    KEY_HISTORY_MEMBER,
    artifact_entry,
    checkpoint_entry,
    consistency_proof_json,
    event_entry,
    expected_members,
    file_entry,
    inclusion_proof_json,
    manifest_json,
    parse_manifest,
    token_entry,
    tsa_entry,
)
from verify.bundle.manifest import check_layout
from verify.bundle.proofs import parse_consistency_proof, parse_inclusion_proof
from verify.errors import (
    BundleMemberError,
    ConsistencyProofError,
    InclusionProofError,
    MalformedInput,
)
from verify.receipt import RECEIPT_FORMAT, parse_receipt, receipt_json, timestamp_entry

H = [hashlib.sha256(bytes([i])).digest() for i in range(4)]


def test_public_api_is_what_all_says() -> None:
    for name in verify.__all__:
        assert getattr(verify, name) is not None
    assert verify.RECEIPT_FORMAT == RECEIPT_FORMAT == "locard-receipt/1"


def test_manifest_writer_and_reader_agree() -> None:
    doc = manifest_json(
        case="IR-1",
        title="t",
        origin="o.example/ledger",
        log_key="o.example/ledger+01234567+AQ==",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        exported_by=("alice", "auditor"),
        content=True,
        export_event=3,
        anchor=4,
        events=[
            event_entry(0, "case:IR-1", "case.created", 1),
            event_entry(3, "case:IR-1", "export", 4),
        ],
        checkpoints=[
            checkpoint_entry(1, [token_entry("builtin", "keys/tsa/builtin-chain.pem")], 0),
            checkpoint_entry(4, [], 1),
        ],
        artifacts=[
            artifact_entry(
                id="art-1",
                ingest_index=2,
                file_name="a.img",
                media_type=None,
                size=3,
                sha256="a" * 64,
                sha1="b" * 40,
                md5="c" * 32,
                file="artifacts/art-1/a.img",
            )
        ],
        tsas=[tsa_entry("builtin", "keys/tsa/builtin-root.pem", True)],
        files=[file_entry("events/0.json", "d" * 64, 10)],
    )
    m = parse_manifest(json.dumps(doc).encode())
    assert (m.case, m.anchor, m.export_event, m.exported_by) == ("IR-1", 4, 3, "alice (auditor)")
    assert [(e.index, e.sealed_in) for e in m.events] == [(0, 1), (3, 4)]
    assert m.checkpoints[0].timestamps[0].chain == "keys/tsa/builtin-chain.pem"
    assert m.checkpoints[1].timestamps_pending == 1
    assert m.artifacts[0].file == "artifacts/art-1/a.img" and m.artifacts[0].size == 3
    assert m.tsas[0].self_operated and m.files == {"events/0.json": "d" * 64}


def test_manifest_key_history_is_a_v2_field_at_its_layout_name() -> None:
    base = manifest_json(
        case="IR-1",
        title="t",
        origin="o.example/ledger",
        log_key="o.example/ledger+01234567+AQ==",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        exported_by=("alice", "auditor"),
        content=False,
        export_event=0,
        anchor=1,
        events=[event_entry(0, "case:IR-1", "export", 1)],
        checkpoints=[checkpoint_entry(1, [], 0)],
        artifacts=[],
        tsas=[],
        files=[],
        key_history=KEY_HISTORY_MEMBER,
    )
    m = parse_manifest(json.dumps(base).encode())
    assert (
        (m.format, m.key_history)
        == (BUNDLE_FORMAT, KEY_HISTORY_MEMBER)
        == (
            "locard-bundle/3",
            "keys/log-history.json",
        )
    )
    assert KEY_HISTORY_MEMBER in expected_members(m)
    check_layout(m)
    with pytest.raises(BundleMemberError):
        check_layout(parse_manifest(json.dumps({**base, "key_history": "../h.json"}).encode()))
    # A /1 manifest has no history; one without the field reads as before.
    v1 = {**base, "format": "locard-bundle/1"}
    with pytest.raises(MalformedInput, match="key_history"):
        parse_manifest(json.dumps(v1).encode())
    del v1["key_history"]
    assert parse_manifest(json.dumps(v1).encode()).key_history is None


def test_proof_documents_round_trip() -> None:
    data = json.dumps(inclusion_proof_json(5, 8, H[:3])).encode()
    proof = parse_inclusion_proof(data, 5, "proofs/5.json")
    assert (proof.tree_size, proof.hashes) == (8, tuple(H[:3]))
    with pytest.raises(InclusionProofError):
        parse_inclusion_proof(data, 6, "proofs/6.json")
    data = json.dumps(consistency_proof_json(3, 7, H)).encode()
    assert parse_consistency_proof(data, 3, 7) == H
    with pytest.raises(ConsistencyProofError):
        parse_consistency_proof(data, 3, 8)


def test_receipt_writer_output_parses() -> None:
    event = (
        b'{"actor":{"id":"a","role":"collector"},"at":"2026-01-01T00:00:00.000000Z",'
        b'"body":{},"case":"IR-1","item":null,"prev":null,"type":"annotation","v":1}'
    )
    doc = receipt_json(
        origin="o.example/ledger",
        log_key="k",
        event=event,
        leaf_index=0,
        leaf_hash=H[0],
        tree_size=1,
        inclusion_proof=[],
        checkpoint=b"o.example/ledger\n1\nAA==\n\n",
        timestamps=[timestamp_entry("builtin", datetime(2026, 1, 1, tzinfo=UTC), b"\x30", [])],
        timestamps_pending=0,
    )
    r = parse_receipt(json.dumps(doc))
    assert r.event.canonical == event and r.timestamps[0].token == b"\x30"
    assert doc["timestamps"][0]["gen_time"] == "2026-01-01T00:00:00+00:00"
    with pytest.raises(MalformedInput):
        parse_receipt(json.dumps({**doc, "format": "locard-receipt/9"}))
