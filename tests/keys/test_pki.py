"""The built-in two-tier PKI: offline root, online issuing CA, CRL, and older single-tier vaults."""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from reportlab.pdfgen.canvas import Canvas

from app.reports.signing import load_or_create_identity, sign_pdf
from custody import pki
from custody.keyring import TSA_DIR, Keyring
from custody.tsa_builtin import CERT_FILE, KEY_FILE, BuiltinTSA
from tests.support.openssl_tsa import openssl_ts_verify
from verify.timestamp import verify_timestamp

ORIGIN = "test.locard.example/ledger"
DIGEST = hashlib.sha256(b"evidence").digest()


def _pdf() -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(72, 720, "custody")
    canvas.save()
    return buf.getvalue()


def _single_tier(directory: Path) -> None:
    """A TSA directory as releases before the two-tier PKI wrote it: the root issues the TSA."""
    directory.mkdir(parents=True, mode=0o700)
    root_key, root = pki.new_root("old")
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(pki.name("old TSA"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(pki.key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pki.write_new(directory / pki.ROOT_CERT_FILE, root.public_bytes(pem), 0o644)
    pki.write_new(directory / pki.ROOT_KEY_FILE, pki.pem_key(root_key), 0o600)
    pki.write_new(directory / CERT_FILE, cert.public_bytes(pem), 0o644)
    pki.write_new(directory / KEY_FILE, pki.pem_key(key), 0o600)


def _validate(pdf: bytes, root_der: bytes) -> None:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root_der)])
    status = validate_pdf_signature(sig, signer_validation_context=context)
    assert status.bottom_line, str(status)


def test_init_makes_two_tiers_with_private_keys_0600(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    Keyring.create(keys, ORIGIN)
    tsa_dir = keys / TSA_DIR
    for name in (pki.ROOT_KEY_FILE, pki.ISSUING_KEY_FILE, KEY_FILE):
        assert stat.S_IMODE((tsa_dir / name).stat().st_mode) == 0o600
    root = pki.load_cert(tsa_dir / pki.ROOT_CERT_FILE)
    issuing = pki.load_cert(tsa_dir / pki.ISSUING_CERT_FILE)
    issuing.verify_directly_issued_by(root)
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    pki.load_cert(tsa_dir / CERT_FILE).verify_directly_issued_by(issuing)


def test_crl_is_signed_by_the_issuing_ca_and_renewed_when_stale(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    Keyring.create(keys, ORIGIN)
    tsa_dir = keys / TSA_DIR
    der = pki.current_crl(tsa_dir)
    assert der is not None
    crl = x509.load_der_x509_crl(der)
    issuing = pki.load_cert(tsa_dir / pki.ISSUING_CERT_FILE)
    issuing_key = issuing.public_key()
    assert isinstance(issuing_key, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(issuing_key) and crl.issuer == issuing.subject
    assert len(crl) == 0
    assert crl.next_update_utc is not None
    # Valid a week, re-signed once a day old: a revocation reaches validators within a day.
    assert crl.next_update_utc > datetime.now(UTC) + timedelta(days=6)
    assert crl.next_update_utc - crl.last_update_utc <= pki.CRL_VALIDITY + pki.BACKDATE
    # A CRL a day old or more is re-signed on the next read.
    issuer = pki.issuer_of(tsa_dir)
    assert issuer is not None
    stale = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuing.subject)
        .last_update(datetime.now(UTC) - timedelta(days=29))
        .next_update(datetime.now(UTC) + timedelta(days=1))
        .sign(issuer.key, hashes.SHA256())
    )
    (tsa_dir / pki.CRL_FILE).write_bytes(stale.public_bytes(serialization.Encoding.DER))
    fresh = pki.current_crl(tsa_dir)
    assert fresh is not None and fresh != stale.public_bytes(serialization.Encoding.DER)
    assert (tsa_dir / pki.CRL_FILE).read_bytes() == fresh


def test_root_key_exported_then_removed_and_the_vault_carries_on(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    Keyring.create(keys, ORIGIN)
    tsa_dir = keys / TSA_DIR
    original = (tsa_dir / pki.ROOT_KEY_FILE).read_bytes()
    with pytest.raises(pki.RootNotExported):
        pki.remove_root(tsa_dir)
    out = tmp_path / "offline" / "root.key"
    out.parent.mkdir()
    pki.export_root(tsa_dir, out)
    assert out.read_bytes() == original and stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        pki.export_root(tsa_dir, out)  # never overwrites
    pki.remove_root(tsa_dir)
    assert not (tsa_dir / pki.ROOT_KEY_FILE).exists()
    with pytest.raises(pki.RootKeyAbsent):
        pki.remove_root(tsa_dir)

    # Without the root key: the TSA timestamps, the tokens chain to the pinned root (ours and
    # OpenSSL's verifier), and a report signer is still issued under that root.
    keyring = Keyring.load(keys)
    token = keyring.tsa.timestamp(DIGEST)
    root_pem = (tsa_dir / pki.ROOT_CERT_FILE).read_bytes()
    verify_timestamp(token.tsr_der, DIGEST, roots=keyring.tsa.trust_roots())
    openssl_ts_verify(token.tsr_der, DIGEST, root_pem)
    identity = load_or_create_identity(keys, ORIGIN)
    assert identity.issued_by_tsa_root
    assert [c.subject for c in identity.issuers] == [
        pki.load_cert(tsa_dir / pki.ISSUING_CERT_FILE).subject,
        pki.load_cert(tsa_dir / pki.ROOT_CERT_FILE).subject,
    ]
    assert identity.crls
    signed = sign_pdf(_pdf(), identity, keyring.tsa, origin=ORIGIN, reason="test")
    _validate(signed.pdf, keyring.tsa.root_cert_der)


def test_report_signer_usages_suit_pades_validators(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    Keyring.create(keys, ORIGIN)
    cert = load_or_create_identity(keys, ORIGIN).cert
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    eku = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku  # what NSS (pdfsig) checks for


def test_single_tier_vault_from_an_earlier_release_keeps_working(tmp_path: Path) -> None:
    tsa_dir = tmp_path / "keys" / TSA_DIR
    _single_tier(tsa_dir)
    tsa = BuiltinTSA.load(tsa_dir)
    assert tsa.intermediates_der == ()
    token = tsa.timestamp(DIGEST)
    assert token.chain_der == (tsa.cert_der, tsa.root_cert_der)
    openssl_ts_verify(token.tsr_der, DIGEST, (tsa_dir / pki.ROOT_CERT_FILE).read_bytes())
    assert pki.current_crl(tsa_dir) is None  # the root alone must not stay online for CRLs
    issuer = pki.issuer_of(tsa_dir)
    assert issuer is not None and not issuer.two_tier
    # Its root key is its only issuer: removal is refused even after an export, unless forced.
    pki.export_root(tsa_dir, tmp_path / "root.key")
    with pytest.raises(pki.PKIError, match="single tier"):
        pki.remove_root(tsa_dir)
    identity = load_or_create_identity(tmp_path / "keys", ORIGIN)
    assert identity.issuers == (pki.load_cert(tsa_dir / pki.ROOT_CERT_FILE),)
    signed = sign_pdf(_pdf(), identity, tsa, origin=ORIGIN, reason="test")
    _validate(signed.pdf, tsa.root_cert_der)


def test_poppler_and_nss_trust_the_report_signer_under_the_pinned_root(tmp_path: Path) -> None:
    """`pdfsig` (poppler over NSS) checks the signer for e-mail signing usage: what the
    report signer's EKUs are chosen for. Only the root is in the NSS database."""
    if shutil.which("pdfsig") is None or shutil.which("certutil") is None:
        pytest.skip("pdfsig and certutil (poppler-utils, libnss3-tools) are not installed")
    keys = tmp_path / "keys"
    keyring = Keyring.create(keys, ORIGIN)
    signed = sign_pdf(
        _pdf(), load_or_create_identity(keys, ORIGIN), keyring.tsa, origin=ORIGIN, reason="t"
    )
    (tmp_path / "report.pdf").write_bytes(signed.pdf)
    nss = tmp_path / "nss"
    nss.mkdir()
    db = f"sql:{nss}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True)
    root = str(keys / TSA_DIR / pki.ROOT_CERT_FILE)
    subprocess.run(
        ["certutil", "-A", "-d", db, "-n", "root", "-t", "CT,C,C", "-i", root], check=True
    )
    out = subprocess.run(
        ["pdfsig", "-nssdir", db, str(tmp_path / "report.pdf")],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    first = out.split("Signature #2")[0]
    assert "Signature is Valid" in first and "Certificate is Trusted" in first, out
