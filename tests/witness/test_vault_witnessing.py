"""A running vault configured with LOCARD_WITNESSES: receipts and bundles carry the quorum."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from app.settings import WitnessConfig
from app.vault import init_vault
from tests.bundles.conftest import export_api, pinned_policy
from tests.support.live_server import live_vault, make_settings
from tests.support.witness_server import start_witness
from verify.bundle import verify_bundle
from verify.verifier import Verifier
from verify.witness_policy import parse_witness_policy


def test_vault_collects_cosignatures_for_receipts_and_bundles(db_url: str, tmp_path: Path) -> None:
    base = make_settings(tmp_path / "vault", db_url)
    log_key = init_vault(base).signer.vkey()
    ws = [start_witness(tmp_path / f"w{i}", f"witness.test/w{i}", [log_key]) for i in range(3)]
    try:
        settings = base.model_copy(
            update={"witnesses": [WitnessConfig(url=w.url, vkey=w.vkey) for w in ws]}
        )
        policy = parse_witness_policy(
            "\n".join(f"witness w{i} {w.vkey}" for i, w in enumerate(ws))
            + "\ngroup g 2 w0 w1 w2\nquorum g\n"
        )
        with live_vault(settings) as live:
            with live.client("collector") as c:
                r = c.post("/v1/cases", json={"title": "witnessed", "severity": "P2"})
                assert r.status_code == 201, r.text
                receipt = r.json()["receipt"]
                case_id = r.json()["case"]["id"]
            pinned = dataclasses.replace(pinned_policy(live), witness_policy=policy)
            report = Verifier(pinned).verify_receipt(receipt)
            assert report.ok, report.to_json()
            quorum = next(c for c in report.checks if c.name == "witness quorum")
            assert "w0, w1, w2" in quorum.detail

            bundle = export_api(live, case_id, tmp_path / "b.zip")
            report = verify_bundle(bundle, pinned)
            assert report.ok, report.to_json()
            assert any(c.name == "witness quorum" and c.ok for c in report.checks)
    finally:
        for w in ws:
            w.stop()
