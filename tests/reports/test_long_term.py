"""Reports that validate long-term (PAdES B-LTA) with nothing but the document and the
pinned root: revocation data for every certificate of the signer's and the TSA's chains is
in the PDF, nothing is fetched, and poppler/NSS accept the signer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed

from app.reports.signing import DOC_TIMESTAMP_FIELD
from custody import pki
from custody.keyring import TSA_DIR
from tests.reports.conftest import Scenario, populate
from tests.reports.validation import lta_validate, pdfsig
from tests.support.live_server import LiveVault, live_vault, make_settings

#: nothing listens here: a validator that tried the distribution point would fail
PUBLIC_URL = "http://127.0.0.1:9/locard"


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveVault, Scenario, bytes]]:
    tmp = tmp_path_factory.mktemp("lta-report")
    settings = make_settings(tmp / "vault", f"sqlite:///{tmp / 'locard.db'}", public_url=PUBLIC_URL)
    with live_vault(settings) as live:
        sc = populate(live)
        with live.client("legal") as c:
            r = c.get(f"/v1/cases/{sc.case_id}/report.pdf")
        assert r.status_code == 200, r.text
        yield live, sc, r.content


def _root(live: LiveVault) -> bytes:
    return live.vault.keyring.tsa.root_cert_der


def test_report_validates_long_term_without_fetching(
    issued: tuple[LiveVault, Scenario, bytes],
) -> None:
    live, _, pdf = issued
    result = lta_validate(pdf, [_root(live)])
    assert result.ades_subindic == AdESPassed.OK, (result.ades_subindic, result.failure_msg)
    assert result.oldest_evidence_record_timestamp is not None  # the document timestamp


def test_the_dss_holds_a_crl_for_every_issued_certificate(
    issued: tuple[LiveVault, Scenario, bytes],
) -> None:
    live, _, pdf = issued
    reader = PdfFileReader(io.BytesIO(pdf))
    dss = reader.root["/DSS"]
    certs = [x509.load_der_x509_certificate(c.get_object().data) for c in dss["/Certs"]]
    crls = [x509.load_der_x509_crl(c.get_object().data) for c in dss["/CRLs"]]
    issuers = {c.issuer for c in crls}
    for cert in certs:
        if cert.issuer != cert.subject:  # every certificate but the root
            assert cert.issuer in issuers, f"no CRL for {cert.subject.rfc4514_string()}"
    assert {s.field_name for s in reader.embedded_signatures} >= {DOC_TIMESTAMP_FIELD}


def test_issued_certificates_name_the_public_crl(issued: tuple[LiveVault, Scenario, bytes]) -> None:
    live, _, _ = issued
    tsa_dir = live.settings.keys_dir / TSA_DIR
    leaf = x509.load_der_x509_certificate(live.vault.keyring.tsa.cert_der)
    issuing = pki.load_cert(tsa_dir / pki.ISSUING_CERT_FILE)
    for cert, url in (
        (leaf, f"{PUBLIC_URL}/v1/keys/crl"),
        (issuing, f"{PUBLIC_URL}/v1/keys/root.crl"),
    ):
        dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert [n.value for p in dp for n in (p.full_name or [])] == [url]


def test_crls_are_short_lived_and_renewed_daily(issued: tuple[LiveVault, Scenario, bytes]) -> None:
    live, _, _ = issued
    tsa_dir = live.settings.keys_dir / TSA_DIR
    crl = x509.load_der_x509_crl(pki.current_crl(tsa_dir) or b"")
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc <= timedelta(days=7, minutes=5)
    # A CRL signed more than a day ago is replaced by the next call, and kept in the store.
    aged = datetime.now(UTC) - timedelta(days=1, hours=1)
    old = pki.new_crl(pki.issuer_of(tsa_dir), now=aged)  # type: ignore[arg-type]
    (tsa_dir / pki.CRL_FILE).write_bytes(old)
    fresh = live.vault.renew_crls()
    assert fresh is not None and fresh != old
    assert x509.load_der_x509_crl(fresh).last_update_utc > aged
    assert live.vault.store.read_bytes(pki.crl_store_key(fresh)) == fresh


def test_pdfsig_trusts_signature_and_certificate(
    issued: tuple[LiveVault, Scenario, bytes], tmp_path: Path
) -> None:
    live, _, pdf = issued
    root_pem = (live.settings.keys_dir / TSA_DIR / pki.ROOT_CERT_FILE).read_bytes()
    out = pdfsig(pdf, root_pem, tmp_path)
    first, _, second = out.partition("Signature #2")
    assert "Signature Validation: Signature is Valid" in first, out
    assert "Certificate Validation: Certificate is Trusted" in first, out
    # poppler does not implement document timestamps (ETSI.RFC3161): it lists the field and
    # says so; pyHanko validates that one (above).
    assert "LocardDocumentTimestamp" in second, out
