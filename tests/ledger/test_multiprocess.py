"""Two OS processes appending to one database: exactly one sequencer at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from custody import migrations
from custody.db import make_engine
from custody.ledger import Ledger
from custody.signing import NoteSigner
from custody.tsa_builtin import BuiltinTSA
from tests.ledger.conftest import ORIGIN
from verify.events import decode_event
from verify.merkle import root_from_leaf_hashes, verify_consistency
from verify.policy import VerificationPolicy
from verify.verifier import Verifier

PER_PROCESS = 150


def test_two_processes_append_without_gap_or_duplicate(
    db_url: str, tmp_path: Path, signer: NoteSigner, builtin_tsa: BuiltinTSA
) -> None:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    key = tmp_path / "log.pem"
    signer.save(key)
    tsa_dir = tmp_path / "tsa"
    BuiltinTSA.create(tsa_dir)
    tsa = BuiltinTSA.load(tsa_dir)
    worker = Path(__file__).with_name("append_worker.py")
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(worker),
                db_url,
                str(key),
                str(tsa_dir),
                ORIGIN,
                name,
                str(PER_PROCESS),
                str(tmp_path / f"{name}.jsonl"),
            ],
            cwd=root,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    for p in procs:
        _, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr

    receipts = [
        json.loads(line)
        for name in ("p1", "p2")
        for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()
    ]
    indices = sorted(r["leaf_index"] for r in receipts)
    assert indices == list(range(2 * PER_PROCESS)), "gap or duplicate leaf index"

    verifier = Verifier(
        VerificationPolicy(
            trusted_log_keys=(signer.vkey(),), trusted_tsa_roots=(tsa.root_cert_der,)
        )
    )
    for r in receipts:
        report = verifier.verify_receipt(r)
        assert report.ok, report.to_json()

    ledger = Ledger(engine, ORIGIN, signer)
    entries = ledger.entries(0, 2 * PER_PROCESS)
    final = ledger.checkpoint()
    assert final.root == root_from_leaf_hashes([e.leaf_hash for e in entries])
    # every checkpoint either process wrote is a prefix of the final tree
    for size in sorted({r["tree_size"] for r in receipts}):
        cp = ledger.checkpoint(size)
        verify_consistency(
            size, final.size, ledger.consistency(size, final.size), cp.root, final.root
        )
    # per-item chains stayed intact although two sequencers interleaved
    last: dict[str, bytes] = {}
    for e in entries:
        ev = decode_event(e.canonical)
        assert ev.prev == last.get(ev.chain_key)
        last[ev.chain_key] = e.leaf_hash
    engine.dispose()
