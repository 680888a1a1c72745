"""The issuing CA's, the TSA's and the report signer's keys in a PKCS#11 token (SoftHSM2).

Each key is made in the token, cannot leave it, and signs there; what it signs is judged by
independent verifiers (OpenSSL, cryptography, pyHanko, poppler's `pdfsig`), pinning the root.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from reportlab.pdfgen.canvas import Canvas

from app.audit import audit
from app.reports.signing import (
    SIGNER_FILE,
    ReportSigningError,
    load_or_create_identity,
    sign_pdf,
)
from app.vault import init_vault
from custody import pki
from custody.ca_signer import sign_crl
from custody.keyring import LOG_KEY, REPORT_SIGNER_REF, TSA_DIR, VAULT_FILE, Keyring
from custody.pkcs11_ec import TokenECKey
from custody.pkcs11_keys import PIN_ENV, TokenConfig, TokenKeyError, open_session
from custody.tsa_builtin import CERT_FILE, KEY_FILE
from tests.keys.conftest import MODULE, PIN
from tests.support.live_server import live_vault, make_settings
from tests.support.openssl_tsa import openssl_ts_verify, run_openssl
from verify.timestamp import verify_timestamp

ORIGIN = "test.locard.example/ledger"


@dataclass(frozen=True)
class TokenVault:
    keys: Path
    prefix: str
    keyring: Keyring

    @property
    def tsa_dir(self) -> Path:
        return self.keys / TSA_DIR


@pytest.fixture(scope="module")
def vault(softhsm_token: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenVault]:
    """One key directory whose CA, TSA and report-signer keys are in the token (the log key
    too), loaded afresh as a restarted vault would."""
    prefix = f"locard-{uuid.uuid4().hex[:10]}"
    keys = tmp_path_factory.mktemp("token-pki") / "keys"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PIN_ENV, PIN)
        Keyring.create(
            keys,
            ORIGIN,
            TokenConfig(MODULE, softhsm_token, f"{prefix}-log"),
            TokenConfig(MODULE, softhsm_token, prefix),
        )
        yield TokenVault(keys, prefix, Keyring.load(keys))


def _pdf() -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(72, 720, "custody")
    canvas.save()
    return buf.getvalue()


def _validate(pdf: bytes, root_der: bytes) -> Any:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root_der)])
    status = validate_pdf_signature(sig, signer_validation_context=context)
    assert status.bottom_line and status.intact and status.valid, str(status)
    return status


def test_the_keys_are_made_in_the_token_and_never_written_to_keys(vault: TokenVault) -> None:
    from pkcs11 import Attribute, ObjectClass

    tsa_dir = vault.tsa_dir
    assert not (tsa_dir / pki.ISSUING_KEY_FILE).exists() and not (tsa_dir / KEY_FILE).exists()
    assert not (vault.keys / LOG_KEY).exists()
    assert (tsa_dir / pki.ROOT_KEY_FILE).exists()  # the offline root: exported, then removed
    identity = load_or_create_identity(vault.keys, ORIGIN)
    assert isinstance(identity.key, TokenECKey)
    assert b"PRIVATE KEY" not in (vault.keys / SIGNER_FILE).read_bytes()
    no_private_pem = [
        p for p in vault.keys.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()
    ]
    assert no_private_pem == [tsa_dir / pki.ROOT_KEY_FILE]
    doc = json.loads((vault.keys / VAULT_FILE).read_text())
    assert doc["pkcs11_pki"]["label"] == vault.prefix

    session = open_session(TokenConfig(MODULE, "locard-test", vault.prefix), rw=False)
    try:
        for role in ("issuing-ca", "tsa", "report-signer"):
            [private] = list(
                session.get_objects(
                    {
                        Attribute.LABEL: f"{vault.prefix}-{role}",
                        Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                    }
                )
            )
            assert private[Attribute.SENSITIVE] and not private[Attribute.EXTRACTABLE]
            assert private[Attribute.LOCAL]  # generated in the token, never imported
    finally:
        session.close()


def test_timestamps_from_the_token_tsa_verify_with_openssl(vault: TokenVault) -> None:
    tsa = vault.keyring.tsa
    digest = bytes(range(32))
    token = tsa.timestamp(digest)
    root_pem = (vault.tsa_dir / pki.ROOT_CERT_FILE).read_bytes()
    openssl_ts_verify(token.tsr_der, digest, root_pem)
    verify_timestamp(token.tsr_der, digest, roots=tsa.trust_roots())
    # The TSA certificate's key is the token's: the file holding it is gone, not just unused.
    cert = pki.load_cert(vault.tsa_dir / CERT_FILE)
    assert not (vault.tsa_dir / KEY_FILE).exists()
    assert cert.public_key() == tsa._key.public_key()  # noqa: SLF001


def test_certificates_and_crls_signed_in_the_token_verify(
    vault: TokenVault, tmp_path: Path
) -> None:
    tsa_dir = vault.tsa_dir
    root = pki.load_cert(tsa_dir / pki.ROOT_CERT_FILE)
    issuing = pki.load_cert(tsa_dir / pki.ISSUING_CERT_FILE)
    issuer = pki.issuer_of(tsa_dir)
    assert issuer is not None and isinstance(issuer.key, TokenECKey)
    assert issuer.key.public_key() == issuing.public_key()
    issuing.verify_directly_issued_by(root)
    pki.load_cert(tsa_dir / CERT_FILE).verify_directly_issued_by(issuing)
    signer = load_or_create_identity(vault.keys, ORIGIN).cert
    signer.verify_directly_issued_by(issuing)

    # OpenSSL builds and checks both paths from the pinned root alone.
    (tmp_path / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "issuing.pem").write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "signer.pem").write_bytes(signer.public_bytes(serialization.Encoding.PEM))
    out = run_openssl(
        "verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "-purpose", "any",
        "signer.pem", tsa_dir / CERT_FILE, cwd=tmp_path,
    )  # fmt: skip
    assert out.count(": OK") == 2, out

    # A stale CRL is re-signed by the token key; cryptography and OpenSSL accept it.
    stale = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuing.subject)
        .last_update(datetime.now(UTC) - timedelta(days=29))
        .next_update(datetime.now(UTC) + timedelta(days=1))
    )
    (tsa_dir / pki.CRL_FILE).write_bytes(
        sign_crl(stale, issuer.key).public_bytes(serialization.Encoding.DER)
    )
    der = pki.current_crl(tsa_dir)
    assert der is not None
    crl = x509.load_der_x509_crl(der)
    public = issuing.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(public) and crl.next_update_utc is not None
    # re-signed now: valid for the full CRL period again, not the stale one's last day
    assert crl.next_update_utc > datetime.now(UTC) + pki.CRL_VALIDITY - timedelta(minutes=1)
    (tmp_path / "crl.der").write_bytes(der)
    out = run_openssl(
        "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "issuing.pem", "-noout", cwd=tmp_path
    )
    assert "verify OK" in out, out


def test_a_report_signed_in_the_token_validates_with_pyhanko_and_pdfsig(
    vault: TokenVault, tmp_path: Path
) -> None:
    identity = load_or_create_identity(vault.keys, ORIGIN)
    assert isinstance(identity.key, TokenECKey) and identity.issued_by_tsa_root
    signed = sign_pdf(_pdf(), identity, vault.keyring.tsa, origin=ORIGIN, reason="test")
    status = _validate(signed.pdf, vault.keyring.tsa.root_cert_der)
    assert status.signing_cert.dump() == identity.cert.public_bytes(serialization.Encoding.DER)
    # Later reports reuse the token key (one session for the process), not a new login each.
    assert load_or_create_identity(vault.keys, ORIGIN).key is identity.key

    if shutil.which("pdfsig") is None or shutil.which("certutil") is None:
        pytest.skip("pdfsig and certutil (poppler-utils, libnss3-tools) are not installed")
    (tmp_path / "report.pdf").write_bytes(signed.pdf)
    nss = tmp_path / "nss"
    nss.mkdir()
    db = f"sql:{nss}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True)
    root = str(vault.tsa_dir / pki.ROOT_CERT_FILE)
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


def test_init_puts_the_pki_keys_in_the_token_and_keeps_a_file_log_key(
    token: str, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"locard-{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        tmp_path / "vault",
        db_url,
        pkcs11_module=MODULE,
        pkcs11_token=token,
        pkcs11_log_key=False,
        pkcs11_pki=True,
        pkcs11_pki_label=prefix,
    )
    init_vault(settings)
    keys = settings.keys_dir
    # Without the PIN the vault does not open.
    monkeypatch.delenv(PIN_ENV)
    with pytest.raises(TokenKeyError, match=PIN_ENV):
        Keyring.load(keys)
    # ... nor does a report signer fall back to a self-signed file key.
    with pytest.raises(ReportSigningError, match=PIN_ENV):
        load_or_create_identity(keys, ORIGIN)
    assert not (keys / SIGNER_FILE).exists()
    monkeypatch.setenv(PIN_ENV, PIN)
    # A report issued by the running vault is signed in the token and validates under the root.
    with live_vault(settings) as live:
        with live.client("collector") as c:
            r = c.post("/v1/cases", json={"title": "token report", "severity": "P3"})
            assert r.status_code == 201, r.text
        with live.client("legal") as c:
            r = c.get(f"/v1/cases/{r.json()['case']['id']}/report.pdf")
            assert r.status_code == 200, r.text
        root_der = live.vault.keyring.tsa.root_cert_der
        assert audit(live.vault, content=False).ok
    _validate(r.content, root_der)
    assert b"PRIVATE KEY" not in (keys / SIGNER_FILE).read_bytes()
    doc = json.loads((keys / VAULT_FILE).read_text())
    assert "pkcs11" not in doc and doc["pkcs11_pki"]["label"] == prefix
    assert (keys / LOG_KEY).exists()  # a file log key: `locard keys rotate` can rotate it
    assert (keys / REPORT_SIGNER_REF).exists()
    assert not (keys / TSA_DIR / KEY_FILE).exists()
    # The same labels cannot be taken twice: a second vault on this token is refused.
    with pytest.raises(TokenKeyError, match="already holds"):
        Keyring.create(tmp_path / "other", ORIGIN, None, TokenConfig(MODULE, token, prefix))
