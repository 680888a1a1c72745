"""The main path end to end over real HTTP: case, upload, download, custody, receipts verify."""

from __future__ import annotations

import hashlib

from tests.support.live_server import LiveVault
from verify.policy import VerificationPolicy
from verify.verifier import Verifier


def verifier(live: LiveVault) -> Verifier:
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(live.vault.ledger.log_key,),
            trusted_tsa_roots=(live.vault.keyring.tsa.root_cert_der,),
        )
    )


def test_case_upload_download_custody(live: LiveVault, case_id: str) -> None:
    data = b"MZ" + bytes(range(256)) * 1000
    digest = hashlib.sha256(data).hexdigest()
    with live.client("collector") as c:
        r = c.post(
            f"/v1/cases/{case_id}/artifacts",
            params={"file_name": "mem.raw", "source_host": "fs01", "sha256": digest},
            content=data,
        )
        assert r.status_code == 201, r.text
        art = r.json()["artifact"]
        assert art["sha256"] == digest and art["size"] == len(data)
        assert art["md5"] == hashlib.md5(data).hexdigest()
        assert verifier(live).verify_receipt(r.json()["receipt"]).ok

        d = c.get(f"/v1/artifacts/{art['id']}/content", params={"reason": "triage"})
        assert d.status_code == 200 and d.content == data
        part = c.get(
            f"/v1/artifacts/{art['id']}/content",
            params={"reason": "header check"},
            headers={"Range": "bytes=0-1"},
        )
        assert part.status_code == 206 and part.content == b"MZ"
        t = c.post(f"/v1/artifacts/{art['id']}/transfers", json={"to": "legal", "reason": "review"})
        assert t.status_code == 201, t.text
        chain = c.get(f"/v1/artifacts/{art['id']}/custody").json()
    types = [e["event"]["type"] for e in chain]
    assert types == ["ingest", "access", "access", "transfer"]
    assert chain[1]["event"]["body"]["reason"] == "triage"
    assert chain[2]["event"]["body"]["range"] == [0, 2]
    for prev, cur in zip(chain, chain[1:], strict=False):
        assert cur["event"]["prev"] == prev["leaf_hash"]
    with live.client("auditor") as a:
        receipt = a.get(f"/v1/ledger/receipts/{chain[-1]['index']}").json()
    assert verifier(live).verify_receipt(receipt).ok
