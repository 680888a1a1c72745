"""C2SP tlog-cosignature/v1 (Ed25519) cosignatures by witnesses (https://c2sp.org/tlog-cosignature).

A cosignature is a note signature line on a checkpoint whose signature is
`timestamp (u64, big-endian) || Ed25519(message)`, where the message is

    cosignature/v1\\n
    time <timestamp>\\n
    <the checkpoint's note text>

and whose key ID is SHA-256(<name> || 0x0A || 0x04 || public key)[:4], so a cosigner key
can never be mistaken for a log key (type 0x01) of the same name.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verify.errors import MalformedInput, SignatureError
from verify.note import KeyIdentity, parse_note

SIG_TYPE_COSIGNATURE_V1 = 0x04
KEY_ID_SIZE = 4
ED25519_KEY_SIZE = 32
ED25519_SIG_SIZE = 64
TIMESTAMP_SIZE = 8
MAX_TIMESTAMP = 2**63 - 1
HEADER = b"cosignature/v1\n"

_HEX8 = re.compile(r"[0-9a-f]{8}")


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    material = name.encode() + b"\n" + bytes([SIG_TYPE_COSIGNATURE_V1]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """What a v1 cosigner signs over a checkpoint's note text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp {timestamp} out of range")
    return HEADER + f"time {timestamp}\n".encode() + text


def cosignature_timestamp(signature: bytes) -> int:
    """The timestamp a cosignature carries (seconds since the Epoch)."""
    return int.from_bytes(signature[:TIMESTAMP_SIZE], "big")


@dataclass(frozen=True, eq=False)
class CosignatureVerifier(KeyIdentity):
    """A trusted witness key, as a vkey `<name>+<hex key ID>+<base64(0x04 || key)>`."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> CosignatureVerifier:
        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls(name, cosigner_key_id(name, raw), public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise MalformedInput("witness key is not <name>+<key ID>+<key>")
        name, id_hex, material = parts
        if not name or any(c.isspace() for c in name):
            raise MalformedInput(f"invalid witness key name {name!r}")
        if not _HEX8.fullmatch(id_hex):
            raise MalformedInput(f"witness key ID {id_hex!r} is not 8 lowercase hex digits")
        try:
            raw = base64.b64decode(material, validate=True)
        except ValueError as exc:
            raise MalformedInput("witness key is not valid base64") from exc
        if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != SIG_TYPE_COSIGNATURE_V1:
            raise MalformedInput("witness key is not a cosignature/v1 (type 0x04) key")
        if bytes.fromhex(id_hex) != cosigner_key_id(name, raw[1:]):
            raise MalformedInput(f"key ID {id_hex} does not belong to witness key {name!r}")
        return cls(name, bytes.fromhex(id_hex), Ed25519PublicKey.from_public_bytes(raw[1:]))

    @property
    def raw_public_key(self) -> bytes:
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def vkey(self) -> str:
        material = base64.b64encode(bytes([SIG_TYPE_COSIGNATURE_V1]) + self.raw_public_key)
        return f"{self.name}+{self.key_id.hex()}+{material.decode('ascii')}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != TIMESTAMP_SIZE + ED25519_SIG_SIZE:
            return False
        timestamp = cosignature_timestamp(signature)
        if timestamp == 0 or timestamp > MAX_TIMESTAMP:
            return False  # tlog-witness: a cosignature never omits its timestamp
        try:
            self.public_key.verify(signature[TIMESTAMP_SIZE:], cosigned_message(text, timestamp))
        except InvalidSignature:
            return False
        return True

    def _identity(self) -> tuple[str, bytes, bytes]:
        return (self.name, self.key_id, self.raw_public_key)


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who vouched for the checkpoint, and when."""

    name: str
    key_id: bytes
    timestamp: int


def verified_cosignatures(
    data: bytes, witnesses: Sequence[CosignatureVerifier]
) -> list[Cosignature]:
    """The cosignatures on a signed note by `witnesses` (others ignored; none is no error).

    Raises CheckpointFormatError for a malformed note and SignatureError when a trusted
    witness key's line does not verify (the note is then malformed, per signed-note).
    """
    note = parse_note(data)
    by_id = {(w.name, w.key_id): w for w in witnesses}
    found: dict[tuple[str, bytes], Cosignature] = {}
    for sig in note.signatures:
        w = by_id.get((sig.name, sig.key_id))
        if w is None:
            continue
        if not w.verify(note.text, sig.signature):
            raise SignatureError(f"invalid cosignature by witness {sig.name}+{sig.key_id.hex()}")
        found.setdefault(
            (sig.name, sig.key_id),
            Cosignature(sig.name, sig.key_id, cosignature_timestamp(sig.signature)),
        )
    return list(found.values())
