"""The vault's note signer: known-answer signature, key files, round trips."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from custody.signing import KeyExistsError, KeyFileError, NoteSigner, NoteTextError
from verify.checkpoint import Checkpoint
from verify.note import verify_checkpoint_note, verify_note

# golang.org/x/mod/sumdb/note note_test.go: the signer key is
# PRIVATE+KEY+<name>+<key ID>+base64(0x01 || 32-byte Ed25519 seed).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
PETER_NOTE = (
    TEXT
    + (
        "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
        "qdngotpRZb6KE6RyyBwJnAM=\n"
    ).encode()
)


def _peter() -> NoteSigner:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])  # base64 may hold "+"
    assert seed[0] == 0x01
    return NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed[1:]))


def test_known_answer_signature() -> None:
    # Ed25519 is deterministic: the note must match the reference byte for byte.
    signer = _peter()
    assert signer.vkey() == PETER_VKEY
    assert signer.key_id == bytes.fromhex("c74f20a3")
    assert signer.sign_note(TEXT) == PETER_NOTE


def test_signed_checkpoint_verifies() -> None:
    signer = NoteSigner.generate("locard.example/vault")
    cp = Checkpoint("locard.example/vault", 7, bytes(range(32)))
    note = signer.sign_note(cp.body())
    assert verify_checkpoint_note(note, signer.verifier(), origin=cp.origin) == cp
    assert verify_note(note, [signer.verifier()]).text == cp.body()


@pytest.mark.parametrize("text", [b"no final newline", b"tab\there\n", b"\xff\n", b""])
def test_unsignable_text(text: bytes) -> None:
    with pytest.raises(NoteTextError):
        NoteSigner.generate("k").sign_note(text)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ValueError):
        NoteSigner.generate(name)


def test_repr_does_not_show_the_private_key() -> None:
    signer = _peter()
    assert repr(signer) == f"NoteSigner({PETER_VKEY!r})"


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    signer = NoteSigner.generate("locard.example/vault")
    signer.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert b"-----BEGIN PRIVATE KEY-----" in data  # PKCS#8
    # Still a plain PEM to other tools: the name line is skipped by parsers.
    assert isinstance(load_pem_private_key(data, None), Ed25519PrivateKey)
    for loaded in (NoteSigner.load(path), NoteSigner.load(str(path), "locard.example/vault")):
        assert loaded.vkey() == signer.vkey()
        assert loaded.sign_note(TEXT) == signer.sign_note(TEXT)


def test_save_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        NoteSigner.generate("k").save(tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_save_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    first = NoteSigner.generate("k")
    first.save(path)
    before = path.read_bytes()
    with pytest.raises(KeyExistsError) as info:
        NoteSigner.generate("k").save(path)
    assert isinstance(info.value, FileExistsError)
    assert path.read_bytes() == before
    assert NoteSigner.load(path).vkey() == first.vkey()


def test_load_name_checks(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    NoteSigner.generate("one").save(path)
    with pytest.raises(KeyFileError, match="not 'two'"):
        NoteSigner.load(path, "two")


def test_load_plain_pkcs8(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "plain.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(KeyFileError, match="no key name"):
        NoteSigner.load(path)
    assert NoteSigner.load(path, "named").name == "named"


def test_load_refuses_other_keys_and_garbage(tmp_path: Path) -> None:
    ec_path = tmp_path / "ec.pem"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_path.write_bytes(ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        NoteSigner.load(ec_path, "k")
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"Note-Signer-Name: k\nnot a key\n")
    with pytest.raises(KeyFileError, match="PKCS#8"):
        NoteSigner.load(junk)
    with pytest.raises(FileNotFoundError):
        NoteSigner.load(tmp_path / "absent.pem", "k")
