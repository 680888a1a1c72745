"""`locard keys export-root` / `remove-root`, and the CRL the vault serves."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from custody import pki
from custody.keyring import TSA_DIR
from tests.cli.test_init import locard
from tests.support.live_server import LiveVault


def test_root_key_leaves_the_box_through_the_cli(tmp_path: Path) -> None:
    d = tmp_path / "vault"
    assert locard("init", data_dir=d).returncode == 0
    tsa_dir = d / "keys" / TSA_DIR
    key = (tsa_dir / pki.ROOT_KEY_FILE).read_bytes()

    refused = locard("keys", "remove-root", data_dir=d)
    assert refused.returncode == 1 and "export-root" in refused.stderr
    assert (tsa_dir / pki.ROOT_KEY_FILE).exists()

    out = tmp_path / "root.key"
    exported = locard("keys", "export-root", "--out", str(out), data_dir=d)
    assert exported.returncode == 0, exported.stderr
    assert out.read_bytes() == key and stat.S_IMODE(out.stat().st_mode) == 0o600
    again = locard("keys", "export-root", "--out", str(out), data_dir=d)
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr

    removed = locard("keys", "remove-root", data_dir=d)
    assert removed.returncode == 0, removed.stderr
    assert not (tsa_dir / pki.ROOT_KEY_FILE).exists()
    assert "Traceback" not in removed.stderr
    # The vault still opens and prints its log key.
    shown = locard("keys", data_dir=d)
    assert shown.returncode == 0 and "+" in shown.stdout, shown.stderr


def test_the_vault_serves_the_issuing_cas_crl(live: LiveVault) -> None:
    tsa_dir = live.settings.keys_dir / TSA_DIR
    with live.client() as anon:
        r = anon.get("/v1/keys/crl")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(r.content)
    issuing = pki.load_cert(tsa_dir / pki.ISSUING_CERT_FILE)
    public = issuing.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert crl.issuer == issuing.subject and crl.is_signature_valid(public)
    # Kept in the write-once store too, for validation after the vault is gone.
    assert live.vault.store.read_bytes(pki.crl_store_key(r.content)) == r.content
