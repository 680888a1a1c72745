"""`locard serve` renews on its own: once an external TSA is configured, the checkpoint
tokens made by the vault's own TSA alone are re-timestamped by the scheduled job, through
the sequencer; with both TSAs stamping every checkpoint, it then finds nothing more due."""

from __future__ import annotations

import time
from pathlib import Path

from custody import renewal as tokens
from tests.support.live_server import live_vault, make_settings
from tests.support.openssl_tsa import OpenSSLTSA


def test_the_server_renews_on_schedule(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'locard.db'}"
    with live_vault(make_settings(tmp_path / "vault", db)) as live:
        with live.client("collector") as c:
            r = c.post("/v1/cases", json={"title": "t", "severity": "P3", "description": ""})
            assert r.status_code == 201, r.text
        assert not tokens.read_renewals(live.vault.store)  # the built-in TSA alone: not due
    with OpenSSLTSA(tmp_path / "acme") as tsa:
        settings = make_settings(
            tmp_path / "vault",
            db,
            external_tsas=[{"name": "acme", "url": tsa.url, "ca_file": tsa.ca_pem_path}],
            renew_interval_s=0.2,
        )
        with live_vault(settings, users=False) as live:
            deadline = time.monotonic() + 60
            while not (found := tokens.read_renewals(live.vault.store)):
                assert time.monotonic() < deadline, "no renewal within a minute"
                time.sleep(0.1)
            first = found[0]
            assert (first.tsa, first.self_operated) == ("acme", False)
            sealed = [
                e for e in live.vault.ledger.chain("vault") if b'"evidence.renewed"' in e.canonical
            ]
            while not sealed:  # the event follows the archived renewal
                assert time.monotonic() < deadline, "the renewal was never sealed"
                time.sleep(0.1)
                sealed = [
                    e
                    for e in live.vault.ledger.chain("vault")
                    if b'"evidence.renewed"' in e.canonical
                ]
            # Passes keep running every 0.2 s; every checkpoint since has acme's token too,
            # so nothing more is due: ten intervals later still one renewal, nothing sealed.
            size = live.vault.ledger.size()
            time.sleep(2.0)
            assert live.vault.ledger.size() == size
            assert len(tokens.read_renewals(live.vault.store)) == 1
