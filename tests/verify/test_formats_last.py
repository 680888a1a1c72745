"""Formats last: evidence the first release issued keeps verifying after every change.

`tests/fixtures/formats_v1` was written once by the code of that release
(`tests/fixtures/make_formats.py`) and is never regenerated. If a test here fails, a change
broke old evidence: keep reading the old format (and raise the version of the new one).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.audit import archived_events, artifact_records
from app.events import Replayer
from app.events.audit import check_index
from custody import migrations
from custody.audit import audit_vault
from custody.db import make_engine
from custody.rebuild import rebuild_ledger
from custody.tsa_builtin import BuiltinTSA
from storage.local import LocalWormStore
from verify.bundle import verify_bundle
from verify.policy import VerificationPolicy
from verify.timestamp import load_pem_or_der_certs, verify_timestamp
from verify.verifier import Verifier

REPO = Path(__file__).resolve().parents[2]
V1 = REPO / "tests" / "fixtures" / "formats_v1"
VKEY = (V1 / "vault.vkey").read_text().strip()
ORIGIN = (V1 / "origin.txt").read_text().strip()
ROOTS = tuple(load_pem_or_der_certs((V1 / "tsa-root.pem").read_bytes()))
PINNED = VerificationPolicy(trusted_log_keys=(VKEY,), trusted_tsa_roots=ROOTS, origin=ORIGIN)
PINS = ("--trusted-key", str(V1 / "vault.vkey"), "--trusted-tsa-ca", str(V1 / "tsa-root.pem"))


def _locard(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCARD_")}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO,
        env={**env, "COLUMNS": "200", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fixtures_are_small_and_hold_no_private_key() -> None:
    files = [p for p in V1.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 1024 * 1024
    assert not [p for p in files if b"PRIVATE KEY" in p.read_bytes()]


def test_v1_receipt_verifies_with_the_api() -> None:
    receipt = (V1 / "receipt.json").read_bytes()
    assert json.loads(receipt)["format"] == "locard-receipt/1"
    report = Verifier(PINNED).verify_receipt(
        receipt, artifact=V1 / "artifacts" / "disk-fragment.img"
    )
    assert report.ok, report.to_json()
    names = [c.name for c in report.checks]
    for check in ("checkpoint signature", "inclusion proof", "timestamp (builtin)"):
        assert check in names
    assert "collector signature" in names and "artifact bytes" in names
    assert report.warnings == []


def test_v1_receipt_verifies_with_the_cli() -> None:
    artifact = str(V1 / "artifacts" / "disk-fragment.img")
    r = _locard("verify", str(V1 / "receipt.json"), "--artifact", artifact, *PINS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERIFIED" in r.stdout and "warning" not in r.stdout
    r = _locard("verify", str(V1 / "receipt.json"), "--json", *PINS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True


def test_v1_bundle_verifies_with_the_api() -> None:
    report = verify_bundle(V1 / "bundle.zip", PINNED)
    assert report.ok, report.to_json()
    names = [c.name for c in report.checks]
    assert "export record" in names and "custody chains" in names
    assert sum(1 for n in names if n.startswith("artifact ")) == 2
    assert report.warnings == []


def test_v1_bundle_verifies_with_the_cli() -> None:
    r = _locard("verify", str(V1 / "bundle.zip"), *PINS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERIFIED" in r.stdout and "warning" not in r.stdout
    r = _locard("verify", str(V1 / "bundle.zip"), "--json", *PINS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True


def test_v1_fixture_rejects_another_pin() -> None:
    """The pins above are what makes the passes mean something: another key must fail."""
    from custody.signing import NoteSigner

    other = NoteSigner.generate(ORIGIN).vkey()
    policy = VerificationPolicy(trusted_log_keys=(other,), trusted_tsa_roots=ROOTS)
    assert not verify_bundle(V1 / "bundle.zip", policy).ok
    assert not Verifier(policy).verify_receipt((V1 / "receipt.json").read_bytes()).ok


def test_v1_archive_rebuilds_and_audits(db_url: str, tmp_path: Path) -> None:
    """The write-once archive of v1 replays into an empty index, which then audits clean."""
    store_dir = tmp_path / "store"
    shutil.copytree(V1 / "data" / "store", store_dir)
    engine = make_engine(db_url)
    try:
        migrations.upgrade(engine)
        store = LocalWormStore(store_dir)
        events = rebuild_ledger(engine, store, Replayer(engine))
        assert events == 8
        report = audit_vault(engine, store, ORIGIN, VKEY, ROOTS, artifact_records(engine))
        assert report.ok, report.to_json()
        assert len(artifact_records(engine)) == 2
        # v1 bodies project with their stated defaults, field for field
        check_index(engine, archived_events(store))
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _fixtures_untouched() -> None:
    # A test writing into the fixture directory would quietly turn it into today's format.
    assert (V1 / "bundle.zip").stat().st_size > 0


def _short_lived_tsa(valid_for: timedelta) -> BuiltinTSA:
    """A TSA whose certificate (EKU timeStamping, critical, as the built-in one) expires soon."""
    now = datetime.now(UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "short-lived root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "short-lived TSA")]))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    return BuiltinTSA(
        key=key,
        cert_der=cert.public_bytes(Encoding.DER),
        root_cert_der=root.public_bytes(Encoding.DER),
        name="short",
    )


def test_a_token_still_verifies_after_its_tsa_certificate_expired() -> None:
    """Why the fixtures outlive their TSA certificate: the chain is judged at genTime."""
    tsa = _short_lived_tsa(timedelta(seconds=2))
    digest = hashlib.sha256(b"checkpoint body").digest()
    token = tsa.timestamp(digest)
    expires = x509.load_der_x509_certificate(tsa.cert_der).not_valid_after_utc
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1.5)
    assert datetime.now(UTC) > expires  # the certificate has expired by now
    info = verify_timestamp(token.tsr_der, digest, roots=[tsa.root_cert_der])
    assert info.gen_time <= expires
