"""C2SP signed notes with Ed25519 signatures (https://c2sp.org/signed-note).

    <text, ending in a newline>
    <blank line>
    — <key name> base64(4-byte key ID || signature)
    ...

Signature types 0x01 (Ed25519, the log's key) and 0x04 (tlog-cosignature/v1, a
witness's, see `verify.cosignature`) are understood. Signatures by keys the
caller does not trust are kept out of the result, as the spec requires; a
signature by a trusted key that fails to verify rejects the whole note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verify.checkpoint import Checkpoint, parse_checkpoint_body
from verify.errors import (
    CheckpointFormatError,
    CheckpointOriginMismatch,
    MalformedInput,
    SignatureError,
)

SIG_TYPE_ED25519 = 0x01
KEY_ID_SIZE = 4
ED25519_KEY_SIZE = 32
ED25519_SIG_SIZE = 64
#: The spec asks verifiers to bound the work a note can cause, and to accept at least 16.
MAX_SIGNATURES = 100

_SIG_PREFIX = "\u2014 "  # em dash, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # every C0 control but newline
_HEX8 = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> bytes:
        """The signature line, newline included."""
        blob = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_SIG_PREFIX}{self.name} {blob}\n".encode()


@dataclass
class Note:
    text: bytes
    signatures: list[NoteSignature] = field(default_factory=list)


def ed25519_key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4], as the spec recommends."""
    material = name.encode() + b"\n" + bytes([SIG_TYPE_ED25519]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def check_key_name(name: str) -> None:
    """Key names are non-empty with no Unicode spaces and no '+'; raises MalformedInput."""
    if not name or "+" in name or any(ch.isspace() for ch in name) or _CONTROL.search(name):
        raise MalformedInput(f"invalid key name {name!r}")


def check_note_text(text: bytes) -> None:
    """Raise CheckpointFormatError unless `text` can be the text of a signed note."""
    decoded = _decode(text)
    if not decoded.endswith("\n"):
        raise CheckpointFormatError("note text does not end with a newline")


def parse_note(data: bytes) -> Note:
    """Split a signed note into text and signatures, checking only the syntax."""
    decoded = _decode(data)
    if not decoded.endswith("\n"):
        raise CheckpointFormatError("signed note does not end with a newline")
    # Signature lines are never empty, so the last blank line is the separator.
    split = decoded.rfind("\n\n")
    if split < 0:
        raise CheckpointFormatError("signed note has no blank line before its signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block:
        raise CheckpointFormatError("signed note has no signatures")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointFormatError(f"signed note has more than {MAX_SIGNATURES} signatures")
    return Note(text.encode(), [_parse_signature_line(line) for line in lines])


def format_note(note: Note) -> bytes:
    """Encode a note: text, blank line, one line per signature."""
    check_note_text(note.text)
    if not note.signatures:
        raise CheckpointFormatError("a signed note needs at least one signature")
    for sig in note.signatures:
        check_key_name(sig.name)
        if len(sig.key_id) != KEY_ID_SIZE:
            raise CheckpointFormatError(f"key ID of {sig.name!r} is not {KEY_ID_SIZE} bytes")
    return note.text + b"\n" + b"".join(sig.line() for sig in note.signatures)


class SignatureVerifier(Protocol):
    """A trusted key of any signature type: its name and key ID pick its signature lines."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: bytes, signature: bytes) -> bool: ...

    def __hash__(self) -> int: ...


class KeyIdentity:
    """Equality and hashing of a verifier by (name, key id, raw key): Ed25519PublicKey is
    not hashable, so they go through the raw key. Shared by note and cosignature verifiers."""

    def _identity(self) -> tuple[str, bytes, bytes]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, KeyIdentity)
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


@dataclass(frozen=True, eq=False)
class NoteVerifier(KeyIdentity):
    """A trusted Ed25519 note key, written as `<name>+<hex key ID>+<base64(0x01 || key)>`."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        check_key_name(self.name)
        expected = ed25519_key_id(self.name, self.raw_public_key)
        if self.key_id != expected:
            raise MalformedInput(
                f"key ID {self.key_id.hex()} does not belong to key {self.name!r} "
                f"(expected {expected.hex()})"
            )

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls(name, ed25519_key_id(name, raw), public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a verifier key; raises MalformedInput for any other spelling."""
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise MalformedInput("verifier key is not <name>+<key ID>+<key>")
        name, id_hex, material = parts
        if not _HEX8.fullmatch(id_hex):
            raise MalformedInput(f"verifier key ID {id_hex!r} is not 8 lowercase hex digits")
        raw = _strict_b64(material, MalformedInput, "verifier key")
        if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != SIG_TYPE_ED25519:
            raise MalformedInput("verifier key is not an Ed25519 (type 0x01) key")
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
        return cls(name, bytes.fromhex(id_hex), public_key)

    @property
    def raw_public_key(self) -> bytes:
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def _identity(self) -> tuple[str, bytes, bytes]:
        return (self.name, self.key_id, self.raw_public_key)

    def vkey(self) -> str:
        material = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self.raw_public_key)
        return f"{self.name}+{self.key_id.hex()}+{material.decode('ascii')}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != ED25519_SIG_SIZE:
            return False
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


def verify_note(data: bytes, verifiers: Sequence[SignatureVerifier]) -> Note:
    """Parse and verify a note; the result lists only signatures by `verifiers` that verified.

    Raises CheckpointFormatError for a malformed note, SignatureError when a
    trusted key's signature is invalid or when no trusted key signed at all.
    """
    note = parse_note(data)
    by_id: dict[tuple[str, bytes], set[SignatureVerifier]] = {}
    for v in verifiers:
        by_id.setdefault((v.name, v.key_id), set()).add(v)
    verified: list[NoteSignature] = []
    for sig in note.signatures:
        candidates = by_id.get((sig.name, sig.key_id))
        if not candidates:
            continue  # unknown key: the spec says ignore it
        label = f"{sig.name}+{sig.key_id.hex()}"
        if len(candidates) > 1:
            raise SignatureError(f"ambiguous trusted key {label}: several keys share it")
        (verifier,) = candidates
        if not verifier.verify(note.text, sig.signature):
            raise SignatureError(f"invalid signature by trusted key {label}")
        if sig not in verified:
            verified.append(sig)
    if not verified:
        trusted = ", ".join(sorted({f"{n}+{k.hex()}" for n, k in by_id})) or "none"
        raise SignatureError(f"note has no signature by a trusted key (trusted: {trusted})")
    return Note(note.text, verified)


def verify_checkpoint_note(
    data: bytes, verifier: NoteVerifier | Sequence[NoteVerifier], origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and return its body.

    The signature is checked before the body is read: unverified text means
    nothing. Pass `origin` to pin the log; None accepts any origin the key signed.
    Several verifiers: a signature by any of them will do (a key and its predecessors).
    """
    note = verify_note(data, [verifier] if isinstance(verifier, NoteVerifier) else verifier)
    checkpoint = parse_checkpoint_body(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointOriginMismatch(
            f"checkpoint is for log {checkpoint.origin!r}, expected {origin!r}"
        )
    return checkpoint


def _decode(data: bytes) -> str:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointFormatError("note is not valid UTF-8") from exc
    if _CONTROL.search(decoded):
        raise CheckpointFormatError("note contains a control character other than newline")
    return decoded


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise CheckpointFormatError(f"signature line {line!r} does not start with an em dash")
    fields = line[len(_SIG_PREFIX) :].split(" ")
    if len(fields) != 2:
        raise CheckpointFormatError(f"signature line {line!r} is not '— <name> <signature>'")
    name, blob = fields
    try:
        check_key_name(name)
    except MalformedInput as exc:
        raise CheckpointFormatError(exc.message) from exc
    raw = _strict_b64(blob, CheckpointFormatError, f"signature of {name!r}")
    if len(raw) <= KEY_ID_SIZE:
        raise CheckpointFormatError(f"signature of {name!r} is too short")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def _strict_b64(
    value: str, error: type[CheckpointFormatError] | type[MalformedInput], what: str
) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} is not valid base64") from exc
    # Decoding ignores non-zero padding bits; re-encoding rejects that second spelling.
    if base64.b64encode(raw).decode("ascii") != value:
        raise error(f"{what} is not canonical base64")
    return raw
