"""The log key in a PKCS#11 token (SoftHSM2): made and used there, never in a file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_pem_x509_certificate

from app.vault import init_vault
from custody import rotation
from custody.keyring import LOG_KEY, Keyring
from custody.pkcs11_keys import PIN_ENV, TokenKeyError
from tests.keys.conftest import MODULE, PIN
from tests.support.live_server import live_vault, make_settings
from verify.note import NoteVerifier
from verify.policy import VerificationPolicy
from verify.verifier import Verifier


def _label() -> str:
    return f"locard-log-{uuid.uuid4().hex[:12]}"


def test_the_log_key_lives_in_the_token_and_signs_there(
    token: str, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        tmp_path / "vault",
        db_url,
        pkcs11_module=MODULE,
        pkcs11_token=token,
        pkcs11_key_label=_label(),
    )
    keyring = init_vault(settings)
    keys = settings.keys_dir
    assert not (keys / LOG_KEY).exists()
    assert json.loads((keys / "vault.json").read_text())["pkcs11"]["token"] == token
    vkey = keyring.signer.vkey()
    with live_vault(settings) as live, live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "hsm", "severity": "P3"})
        assert r.status_code == 201, r.text
        assert live.vault.keyring.signer.vkey() == vkey
        size = live.vault.ledger.checkpoint(None).size
        receipt = live.vault.ledger.receipt(size - 1).to_json()
    root = load_pem_x509_certificate((keys / "tsa" / "tsa-root.pem").read_bytes())
    policy = VerificationPolicy(
        trusted_log_keys=(vkey,), trusted_tsa_roots=(root.public_bytes(Encoding.DER),)
    )
    report = Verifier(policy).verify_receipt(receipt)
    assert report.ok, report
    assert NoteVerifier.from_vkey(vkey).name == settings.origin

    # Without the PIN the vault does not open; rotation of a token key is refused.
    monkeypatch.delenv(PIN_ENV)
    with pytest.raises(TokenKeyError, match=PIN_ENV):
        Keyring.load(keys)
    monkeypatch.setenv(PIN_ENV, PIN)
    with pytest.raises(rotation.RotationError, match="token"):
        rotation.prepare(keys, Keyring.load(keys).signer)


def test_a_second_init_into_the_same_token_is_refused(token: str, tmp_path: Path) -> None:
    from custody.pkcs11_keys import TokenConfig

    config = TokenConfig(MODULE, token, _label())
    Keyring.create(tmp_path / "a", "test.locard.example/ledger", config)
    with pytest.raises(TokenKeyError, match="already holds"):
        Keyring.create(tmp_path / "b", "test.locard.example/ledger", config)
