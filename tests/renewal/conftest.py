"""A vault aged on paper: evidence sealed under the built-in TSA, renewed first by the vault
itself, then by an external TSA (OpenSSL's, certificate valid ten years) once the operator
configures one; bundles exported before and after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from typer.testing import CliRunner

from app.settings import Settings
from cli.main import app
from tests.bundles.conftest import export_api
from tests.reports.conftest import Scenario, populate
from tests.support.crl_server import CRLServer, sign_crl
from tests.support.live_server import live_vault, make_settings
from tests.support.openssl_tsa import OpenSSLTSA

#: the external TSA's certificate outlives the built-in TSA's (five years) by far
EXTERNAL_DAYS = 3650


@dataclass
class Aged:
    settings: Settings
    tsa: OpenSSLTSA
    scenario: Scenario
    builtin_root: bytes
    log_key: str
    builtin_expiry: datetime
    issued_pdf: bytes
    bundle_before: Path
    bundle_after: Path
    own_renewal: dict[str, Any]
    external_renewal: dict[str, Any]
    tokens: dict[str, str] = field(default_factory=dict)
    #: a report issued after the switch: timestamped by the external TSA
    external_pdf: bytes = b""
    #: how often issuing it fetched the external CA's CRL
    crl_fetches: int = 0
    crl: bytes = b""


def cli_env(settings: Settings, external: OpenSSLTSA | None) -> dict[str, str]:
    env = {
        "LOCARD_DATA_DIR": str(settings.data_dir),
        "LOCARD_DATABASE_URL": settings.db_url,
        "LOCARD_BUILTIN_TSA": "true" if external is None else "false",
        "LOCARD_EXTERNAL_TSAS": "[]",
    }
    if external is not None:
        env["LOCARD_EXTERNAL_TSAS"] = json.dumps(
            [{"name": "acme", "url": external.url, "ca_file": str(external.ca_pem_path)}]
        )
    return env


def renew_cli(settings: Settings, external: OpenSSLTSA | None, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["renew", "--json", *args], env=cli_env(settings, external))
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture(scope="package")
def aged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aged]:
    tmp = tmp_path_factory.mktemp("aged")
    with (
        CRLServer() as crls,
        OpenSSLTSA(tmp / "acme", days=EXTERNAL_DAYS, crl_url=crls.url) as tsa,
    ):
        crls.body = sign_crl(tsa.ca_pem_path, tsa.ca_key_path)
        before = make_settings(tmp / "vault", f"sqlite:///{tmp / 'locard.db'}")
        with live_vault(before) as live:
            sc = populate(live)
            with live.client("legal") as c:
                r = c.get(f"/v1/cases/{sc.case_id}/report.pdf")
                assert r.status_code == 200, r.text
            bundle_before = export_api(live, sc.case_id, tmp / "before.zip", content=False)
            tokens = dict(live.tokens)
            builtin_root = live.vault.keyring.tsa.root_cert_der
            builtin_expiry = x509.load_der_x509_certificate(
                live.vault.keyring.tsa.cert_der
            ).not_valid_after_utc
            log_key = live.vault.ledger.log_key
        # The vault alone: renewing works, and says the renewer is the vault itself.
        own = renew_cli(before, None, "--all")
        # The operator configures an external TSA: what rests on the vault's own is due.
        after = make_settings(
            tmp / "vault",
            f"sqlite:///{tmp / 'locard.db'}",
            builtin_tsa=False,
            external_tsas=[{"name": "acme", "url": tsa.url, "ca_file": tsa.ca_pem_path}],
        )
        external = renew_cli(after, tsa)
        with live_vault(after, users=False) as live:
            live.tokens.update(tokens)
            bundle_after = export_api(live, sc.case_id, tmp / "after.zip", content=False)
            fetches = crls.fetches
            with live.client("legal") as c:
                r2 = c.get(f"/v1/cases/{sc.case_id}/report.pdf")
                assert r2.status_code == 200, r2.text
            yield Aged(
                after,
                tsa,
                sc,
                builtin_root,
                log_key,
                builtin_expiry,
                r.content,
                bundle_before,
                bundle_after,
                own,
                external,
                tokens,
                r2.content,
                crls.fetches - fetches,
                crls.body,
            )
