"""The report-signing identity and the TSA behind PDF time-stamps, built-in and external."""

from __future__ import annotations

import asyncio
import io
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from reportlab.pdfgen.canvas import Canvas

from app.reports.models import CaseReport
from app.reports.signing import (
    SIGNER_FILE,
    ReportSigningError,
    VaultTimeStamper,
    load_or_create_identity,
    report_authority,
    sign_pdf,
)
from custody.keyring import Keyring
from custody.pki import ISSUING_KEY_FILE
from custody.timestamps import HttpTSA
from custody.tsa_builtin import ROOT_KEY_FILE
from tests.reports.conftest import populate
from tests.reports.helpers import attached_json, run_recheck
from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.support.openssl_tsa import OpenSSLTSA

ORIGIN = "test.locard.example/ledger"


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keys", ORIGIN)


def _tiny_pdf() -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(72, 720, "custody")
    canvas.save()
    return buf.getvalue()


def test_identity_is_made_once_0600_and_issued_by_the_tsa_root(
    keyring: Keyring, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    identity = load_or_create_identity(keys, ORIGIN)
    assert stat.S_IMODE((keys / SIGNER_FILE).stat().st_mode) == 0o600
    root = x509.load_der_x509_certificate(keyring.tsa.root_cert_der)
    issuing = x509.load_der_x509_certificate(keyring.tsa.intermediates_der[0])
    assert identity.issued_by_tsa_root and identity.root == root
    assert identity.issuers == (issuing, root)
    assert identity.cert.issuer == issuing.subject
    pub = issuing.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    sig_hash = identity.cert.signature_hash_algorithm
    assert isinstance(sig_hash, hashes.SHA256)
    pub.verify(identity.cert.signature, identity.cert.tbs_certificate_bytes, ec.ECDSA(sig_hash))
    assert identity.cert.not_valid_after_utc <= root.not_valid_after_utc
    again = load_or_create_identity(keys, ORIGIN)
    assert again.cert == identity.cert
    assert [p.name for p in keys.iterdir() if p.name.startswith(".report-signer")] == []


def test_concurrent_first_use_agrees_on_one_identity(keyring: Keyring, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    got: list[bytes] = []
    barrier = threading.Barrier(8)

    def first_use() -> None:
        barrier.wait()
        got.append(load_or_create_identity(keys, ORIGIN).cert.public_bytes(Encoding.DER))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1


def test_without_any_ca_key_the_signer_is_self_signed(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    kr = Keyring.create(keys, ORIGIN)
    # An operator who keeps both CA keys off the box.
    (keys / "tsa" / ROOT_KEY_FILE).unlink()
    (keys / "tsa" / ISSUING_KEY_FILE).unlink()
    identity = load_or_create_identity(keys, ORIGIN)
    assert not identity.issued_by_tsa_root and identity.root == identity.cert
    signed = sign_pdf(_tiny_pdf(), identity, kr.tsa, origin=ORIGIN, reason="test")
    sig = PdfFileReader(io.BytesIO(signed.pdf)).embedded_signatures[0]
    roots = [
        asn1_x509.Certificate.load(identity.cert.public_bytes(Encoding.DER)),
        asn1_x509.Certificate.load(kr.tsa.root_cert_der),
    ]
    status = validate_pdf_signature(
        sig, signer_validation_context=ValidationContext(trust_roots=roots)
    )
    assert status.bottom_line, str(status)


def test_a_broken_signer_file_is_a_clear_error(keyring: Keyring, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    (keys / SIGNER_FILE).write_text("not a key")
    with pytest.raises(ReportSigningError, match="cannot read the report-signing key"):
        load_or_create_identity(keys, ORIGIN)


def test_time_stamper_answers_sha256_only(keyring: Keyring) -> None:
    stamper = VaultTimeStamper(keyring.tsa)
    token = asyncio.run(stamper.async_timestamp(b"\x01" * 32, "sha256"))
    assert token["content_type"].native == "signed_data"
    with pytest.raises(ReportSigningError, match="SHA-256 only"):
        asyncio.run(stamper.async_timestamp(b"\x01" * 48, "sha384"))


def test_report_authority_prefers_an_external_tsa(keyring: Keyring) -> None:
    external = HttpTSA("acme", "http://127.0.0.1:9/tsa", [keyring.tsa.root_cert_der])
    assert report_authority([keyring.tsa]) is keyring.tsa
    assert report_authority([keyring.tsa, external]) is external
    with pytest.raises(ReportSigningError, match="no TSA"):
        report_authority([])


@pytest.fixture
def live_external(tmp_path: Path) -> Iterator[tuple[LiveVault, OpenSSLTSA]]:
    """A vault with the built-in TSA and OpenSSL's TSA as an external one."""
    with OpenSSLTSA(tmp_path / "openssl-tsa") as tsa:
        settings = make_settings(
            tmp_path / "vault",
            f"sqlite:///{tmp_path / 'locard.db'}",
            external_tsas=[{"name": "acme", "url": tsa.url, "ca_file": tsa.ca_pem_path}],
        )
        with live_vault(settings) as live:
            yield live, tsa


def test_an_external_tsa_time_stamps_the_pdf(
    live_external: tuple[LiveVault, OpenSSLTSA], tmp_path: Path
) -> None:
    live, tsa = live_external
    sc = populate(live)
    with live.client("legal") as c:
        r = c.get(f"/v1/cases/{sc.case_id}/report.pdf")
        assert r.status_code == 200, r.text
    report = CaseReport.model_validate_json(attached_json(r.content, tmp_path))
    sig = next(
        s
        for s in PdfFileReader(io.BytesIO(r.content)).embedded_signatures
        if s.sig_object_type == "/Sig"
    )
    roots = [
        asn1_x509.Certificate.load(live.vault.keyring.tsa.root_cert_der),
        asn1_x509.Certificate.load(tsa.ca_der),
    ]
    status = validate_pdf_signature(
        sig, signer_validation_context=ValidationContext(trust_roots=roots)
    )
    assert status.bottom_line, str(status)
    ts = status.timestamp_validity
    assert ts is not None and ts.trusted
    assert ts.signing_cert.dump() == tsa.tsa_cert_der  # OpenSSL's TSA, not the vault's
    kinds = {t.name: (t.kind, t.self_operated) for t in report.vault.tsas}
    assert kinds == {"builtin": ("built-in", True), "acme": ("external", False)}
    assert {t.tsa for t in report.anchor.timestamps} == {"builtin", "acme"}
    acme = [c.command for c in report.recheck if "acme" in c.command and "openssl ts" in c.command]
    assert acme and "-CAfile acme-root.pem" in acme[0]
    [validate] = [c.command for c in report.recheck if c.command.startswith("pyhanko")]
    assert "--trust tsa-root.pem --trust acme-root.pem" in validate
    # OpenSSL's TSA publishes no CRL: this report cannot be long-term, and says so.
    assert report.vault.report_signer is not None and not report.vault.report_signer.long_term
    pinned = {
        "tsa-root.pem": (live.settings.keys_dir / "tsa" / "tsa-root.pem").read_bytes(),
        "acme-root.pem": tsa.ca_pem_path.read_bytes(),
    }
    outputs = run_recheck(live, sc, r.content, pinned, tmp_path)
    assert any("--trusted-tsa-ca acme-root.pem" in k for k in outputs)
