"""The ledger asks witnesses to cosign each checkpoint; a witness down never blocks a seal."""

from __future__ import annotations

import json
from pathlib import Path

from custody.ledger import EventDraft, Ledger
from custody.witnesses import WitnessClient, WitnessCollector
from tests.support.witness_server import start_witness
from verify.cosignature import CosignatureVerifier, verified_cosignatures
from verify.note import verify_note


def draft(i: int) -> EventDraft:
    return EventDraft("annotation", "alice", "collector", {"note": f"n{i}"}, "IR-1", "a")


def test_cosignatures_collected_pending_and_caught_up(ledger: Ledger, tmp_path: Path) -> None:
    ledger.seal([draft(0)])  # history before witnessing began
    ws = [
        start_witness(tmp_path / f"w{i}", f"witness.test/w{i}", [ledger.log_key]) for i in range(3)
    ]
    try:
        keys = [CosignatureVerifier.from_vkey(w.vkey) for w in ws]
        ledger.witnesses = WitnessCollector(
            ledger.engine,
            [WitnessClient(w.url, k, timeout=2) for w, k in zip(ws, keys, strict=True)],
            ledger.store,
        )
        (receipt,) = ledger.seal([draft(1)])
        doc = receipt.to_json()
        assert len(verified_cosignatures(doc["checkpoint"].encode(), keys)) == 3
        both = verify_note(doc["checkpoint"].encode(), [ledger.signer.verifier(), *keys])
        assert len(both.signatures) == 4
        assert len(ledger.checkpoint().cosignatures) == 3
        # Archived beside the seal in the write-once store.
        assert len(list(ledger.store.list_keys("ledger/cosignatures/"))) == 3

        ws[0].stop()
        (receipt,) = ledger.seal([draft(2)])
        assert len(verified_cosignatures(receipt.checkpoint.cosigned_note, keys)) == 2

        for w in ws[1:]:
            w.stop()
        (receipt,) = ledger.seal([draft(3)])  # all down: sealed, cosignatures pending
        assert receipt.checkpoint.cosignatures == ()
        assert ledger.retry_cosignatures() == 0

        ports = [int(w.url.rsplit(":", 1)[1]) for w in ws]
        ws = [
            start_witness(tmp_path / f"w{i}", f"witness.test/w{i}", [ledger.log_key], port=p)
            for i, p in enumerate(ports)
        ]
        assert ledger.retry_cosignatures() == 3
        latest = ledger.receipt(3)
        assert latest.checkpoint.size == 4
        got = verified_cosignatures(latest.checkpoint.cosigned_note, keys)
        assert len(got) == 3
        # The bundle writer and receipts carry the same cosigned note.
        assert json.loads(json.dumps(latest.to_json()))["checkpoint"].count("\u2014") == 4
    finally:
        for w in ws:
            if w.thread.is_alive():
                w.stop()
