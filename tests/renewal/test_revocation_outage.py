"""An external TSA's CRL server that does not answer does not stop a report being issued:
it is signed as before, and its JSON says it is not long-term."""

from __future__ import annotations

import json
from pathlib import Path

from tests.reports.helpers import attached_json
from tests.support.live_server import live_vault, make_settings
from tests.support.openssl_tsa import OpenSSLTSA

#: nothing listens here
DEAD_CRL = "http://127.0.0.1:9/ca.crl"


def test_report_issued_without_the_unreachable_crl(tmp_path: Path) -> None:
    with OpenSSLTSA(tmp_path / "acme", crl_url=DEAD_CRL) as tsa:
        settings = make_settings(
            tmp_path / "vault",
            f"sqlite:///{tmp_path / 'locard.db'}",
            external_tsas=[{"name": "acme", "url": tsa.url, "ca_file": tsa.ca_pem_path}],
        )
        with live_vault(settings) as live:
            with live.client("collector") as c:
                r = c.post("/v1/cases", json={"title": "t", "severity": "P3", "description": ""})
                assert r.status_code == 201, r.text
                case_id = r.json()["case"]["id"]
                r = c.post(f"/v1/cases/{case_id}/members", json={"principal": "legal"})
                assert r.status_code == 201, r.text
            with live.client("legal") as c:
                r = c.get(f"/v1/cases/{case_id}/report.pdf")
            assert r.status_code == 200, r.text
    report = json.loads(attached_json(r.content, tmp_path))
    signer = report["vault"]["report_signer"]
    assert (signer["timestamped_by"], signer["long_term"]) == ("acme", False)
