"""Reports carry the cosigned checkpoint they are "as of": which witnesses cosigned it,
verified against the witnesses the vault is configured with."""

from __future__ import annotations

from pathlib import Path

from app.reports.models import CaseReport
from app.settings import WitnessConfig
from app.vault import init_vault
from custody.cosigner import Cosigner
from custody.signing import NoteSigner
from tests.reports.helpers import attached_json, pdf_text, squashed
from tests.support.live_server import live_vault, make_settings
from tests.support.witness_server import start_witness
from verify.cosignature import CosignatureVerifier, verified_cosignatures


def test_reports_name_the_witnesses_that_cosigned_their_checkpoint(tmp_path: Path) -> None:
    base = make_settings(tmp_path / "vault", f"sqlite:///{tmp_path / 'locard.db'}")
    log_key = init_vault(base).signer.vkey()
    ws = [start_witness(tmp_path / f"w{i}", f"witness.test/w{i}", [log_key]) for i in range(2)]
    # A third configured witness that never answers: pending, named, never blocking.
    silent = Cosigner(NoteSigner.generate("witness.test/w2")).vkey()
    try:
        configs = [WitnessConfig(url=w.url, vkey=w.vkey) for w in ws]
        configs.append(WitnessConfig(url="http://127.0.0.1:9", vkey=silent, timeout=1))
        settings = base.model_copy(update={"witnesses": configs})
        with live_vault(settings) as live:
            with live.client("collector") as c:
                r = c.post("/v1/cases", json={"title": "witnessed", "severity": "P2"})
                assert r.status_code == 201, r.text
                case_id = r.json()["case"]["id"]
                r = c.post(f"/v1/cases/{case_id}/members", json={"principal": "legal"})
                assert r.status_code == 201, r.text
            with live.client("legal") as c:
                report = CaseReport.model_validate_json(
                    c.get(f"/v1/cases/{case_id}/report.json").content
                )
                pdf = c.get(f"/v1/cases/{case_id}/report.pdf").content
            a = report.anchor
            assert {x.witness for x in a.cosignatures} == {"witness.test/w0", "witness.test/w1"}
            assert {x.vkey for x in a.cosignatures} == {w.vkey for w in ws}
            assert a.witnesses_pending == ["witness.test/w2"]
            # The cosigned note in the report verifies by itself, with the witnesses' keys.
            keys = [CosignatureVerifier.from_vkey(w.vkey) for w in ws]
            found = verified_cosignatures(a.cosigned_note.encode(), keys)
            assert {f.name for f in found} == {"witness.test/w0", "witness.test/w1"}
            assert a.cosigned_note.startswith(a.note)
            check = next(ch for ch in report.checks if ch.name == "witness cosignatures")
            assert check.ok and "2 of 3" in check.detail, check
            flat = squashed(pdf_text(pdf, tmp_path))
            assert "Witnessedby" in flat and "witness.test/w0" in flat
            assert "notyetcosignedbywitness.test/w2" in flat.replace("(", "").replace(")", "")
            signed = CaseReport.model_validate_json(attached_json(pdf, tmp_path))
            assert len(signed.anchor.cosignatures) == 2
    finally:
        for w in ws:
            w.stop()
