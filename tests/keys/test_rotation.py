"""`locard keys rotate`: a signed hand-over in the ledger, and verifiers that follow it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_pem_x509_certificate

from app.audit import audit
from app.settings import Settings
from app.vault import open_vault
from custody import rotation
from custody.keyring import LOG_MARK, Keyring
from custody.signing import NoteSigner
from custody.watermark import HighWaterMark, WouldEquivocate
from tests.cli.test_init import locard
from verify.checkpoint import Checkpoint
from verify.errors import PolicyError
from verify.keyhistory import parse_key_history
from verify.note import NoteVerifier
from verify.policy import VerificationPolicy
from verify.verifier import Verifier

ORIGIN = "vault.example.org/ledger"


def format_checkpoint(origin: str, size: int, root: bytes) -> bytes:
    return Checkpoint(origin, size, root).body()


def _receipt(d: Path, index: int | None = None) -> dict[str, object]:
    """The receipt of event `index` (default: the last) against the latest checkpoint."""
    vault = open_vault(Settings(data_dir=d), start=False)
    try:
        if index is None:
            index = vault.ledger.checkpoint(None).size - 1
        doc: dict[str, object] = vault.ledger.receipt(index).to_json()
        return doc
    finally:
        vault.close()


def _verifier(d: Path, pinned: str, history: bool) -> Verifier:
    root = load_pem_x509_certificate((d / "keys" / "tsa" / "tsa-root.pem").read_bytes())
    keyring = Keyring.load(d / "keys")
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(pinned,),
            trusted_tsa_roots=(root.public_bytes(Encoding.DER),),
            origin=ORIGIN,
            log_key_history=keyring.history if history else (),
        )
    )


@pytest.fixture
def rotated(tmp_path: Path) -> tuple[Path, str, str, dict[str, object]]:
    """A vault with events before and after one rotation: (data dir, old key, new key,
    a receipt issued before the rotation)."""
    d = tmp_path / "vault"
    assert locard("init", "--origin", ORIGIN, data_dir=d).returncode == 0
    assert locard("user", "add", "alice", "--role", "collector", data_dir=d).returncode == 0
    old = locard("keys", data_dir=d).stdout.strip()
    before = _receipt(d, 0)
    out = locard("keys", "rotate", "--reason", "yearly rotation", data_dir=d)
    assert out.returncode == 0, out.stderr
    new = out.stdout.strip()
    assert new != old and NoteVerifier.from_vkey(new).name == ORIGIN
    return d, old, new, before


def test_rotation_seals_a_hand_over_and_carries_the_mark(
    rotated: tuple[Path, str, str, dict[str, object]],
) -> None:
    d, old, new, _ = rotated
    keys = d / "keys"
    keyring = Keyring.load(keys)
    assert keyring.signer.vkey() == new and keyring.original_key == old
    [handover] = keyring.history
    assert (handover.old_key, handover.new_key) == (old, new)
    # The new key starts where the old one stopped: no size the old key signed can get a
    # second root from the new key.
    mark = HighWaterMark(keys / LOG_MARK).read()
    assert mark is not None and mark.size == handover.index + 1
    with pytest.raises(WouldEquivocate):
        keyring.signer.sign(format_checkpoint(ORIGIN, mark.size - 1, b"\x00" * 32))
    with pytest.raises(WouldEquivocate):
        keyring.signer.sign(format_checkpoint(ORIGIN, mark.size, b"\x01" * 32))
    retired = list((keys / rotation.RETIRED_DIR).glob("*.pem"))
    assert [NoteSigner.load(p).vkey() for p in retired] == [old]
    # The hand-over is an event in the ledger; `locard keys` prints the key in use.
    assert locard("keys", data_dir=d).stdout.strip() == new
    # A second rotation chains from the first.
    again = locard("keys", "rotate", "--reason", "again", data_dir=d)
    assert again.returncode == 0, again.stderr
    assert [h.old_key for h in Keyring.load(keys).history] == [old, new]


def test_receipts_before_and_after_verify_with_the_pinned_original_key(
    rotated: tuple[Path, str, str, dict[str, object]],
) -> None:
    d, old, new, before = rotated
    assert locard("user", "add", "bob", "--role", "legal", data_dir=d).returncode == 0
    after_new_event = _receipt(d)
    reissued_old_event = _receipt(d, 0)
    with_history = _verifier(d, old, history=True)
    for doc in (before, after_new_event, reissued_old_event):
        report = with_history.verify_receipt(doc)
        assert report.ok, report
    # Without the history, the new key is not trusted...
    assert not _verifier(d, old, history=False).verify_receipt(after_new_event).ok
    # ...and an auditor who pinned the new key directly needs no history.
    assert _verifier(d, new, history=False).verify_receipt(after_new_event).ok
    # The vault's own audit walks the archive across the rotation.
    vault = open_vault(Settings(data_dir=d), start=False)
    try:
        audited = audit(vault)
    finally:
        vault.close()
    assert audited.ok, [c for c in audited.checks if not c.ok]


def test_the_retired_key_cannot_sign_past_its_hand_over(
    rotated: tuple[Path, str, str, dict[str, object]],
) -> None:
    d, old, _, _ = rotated
    keys = d / "keys"
    [handover] = Keyring.load(keys).history
    [retired] = (keys / rotation.RETIRED_DIR).glob("*.pem")
    thief = NoteSigner.load(retired)  # a stolen retired key, no mark to stop it
    size = handover.index + 5
    forged = thief.sign_note(format_checkpoint(ORIGIN, size, b"\x02" * 32))
    verifier = _verifier(d, old, history=True)
    with pytest.raises(Exception, match="trusted key"):
        verifier.check_checkpoint(forged, NoteVerifier.from_vkey(old), ORIGIN)


def test_a_tampered_history_is_a_policy_error(
    rotated: tuple[Path, str, str, dict[str, object]],
) -> None:
    d, old, _, _ = rotated
    doc = json.loads((d / "keys" / rotation.HISTORY_FILE).read_text())
    stranger = NoteSigner.generate(ORIGIN).vkey()
    doc["handovers"][0]["new_key"] = stranger
    history = parse_key_history(json.dumps(doc["handovers"]))
    with pytest.raises(PolicyError, match="another new key"):
        Verifier(VerificationPolicy(trusted_log_keys=(old,), log_key_history=history))
