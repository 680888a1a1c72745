"""The vault's Ed25519 note signing key.

The key file is an unencrypted PKCS#8 PEM, mode 0600. The key name (the note
signer identity, normally the log origin) is kept in the same file as an
RFC 7468 explanatory line before the PEM block, which PEM parsers skip, so
the file stays readable by OpenSSL and friends and the name cannot drift from
the key it belongs to.

A signer may carry the key's high-water mark (`custody.watermark`): it then signs
checkpoints only, and refuses any that would fork what the key signed before.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from custody.watermark import HighWaterMark, Mark
from storage.fsio import fsync_dir_quietly as _fsync_dir
from verify.checkpoint import parse_checkpoint_body
from verify.errors import VerificationError
from verify.note import NoteSignature, NoteVerifier, check_key_name, check_note_text

_NAME_LABEL = "Note-Signer-Name: "
_KEY_FILE_MODE = 0o600


class KeyFileError(Exception):
    """A key file is missing its name, unreadable as an Ed25519 key, or for another name."""


class KeyExistsError(KeyFileError, FileExistsError):
    """Refused to overwrite an existing key file: that would lose the old key."""


class NoteTextError(ValueError):
    """The text cannot be signed as a note (no final newline, control characters, ...)."""


class Ed25519Signing(Protocol):
    """An Ed25519 private key in a file (`Ed25519PrivateKey`) or in a token."""

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> Ed25519PublicKey: ...


class NoteSigner:
    """Signs C2SP notes as `name` with an Ed25519 key."""

    __slots__ = ("_key", "_verifier", "mark", "name", "predecessors")

    def __init__(
        self,
        name: str,
        private_key: Ed25519Signing,
        mark: HighWaterMark | None = None,
        predecessors: tuple[NoteVerifier, ...] = (),
    ) -> None:
        try:
            check_key_name(name)
        except VerificationError as exc:
            raise ValueError(exc.message) from exc
        self.name = name
        self._key = private_key
        self.mark = mark
        #: the keys this one took over from (`locard keys rotate`), oldest first: the
        #: vault's own history was signed by them
        self.predecessors = predecessors
        self._verifier = NoteVerifier.from_public_key(name, private_key.public_key())

    def __repr__(self) -> str:
        return f"NoteSigner({self.vkey()!r})"

    @property
    def private_key(self) -> Ed25519Signing:
        return self._key

    @property
    def in_file(self) -> bool:
        """The key can be written to a file (False: it lives in a token)."""
        return isinstance(self._key, Ed25519PrivateKey)

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    def with_mark(self, mark: HighWaterMark) -> NoteSigner:
        """The same key, guarded by `mark`."""
        return NoteSigner(self.name, self._key, mark, self.predecessors)

    def with_predecessors(self, predecessors: tuple[NoteVerifier, ...]) -> NoteSigner:
        return NoteSigner(self.name, self._key, self.mark, predecessors)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        name: str | None = None,
        mark: HighWaterMark | None = None,
    ) -> NoteSigner:
        """Read a key file written by `save`.

        `name`, if given, must match the name recorded in the file; it is
        required for a plain PKCS#8 PEM without a recorded name.
        """
        data = Path(path).read_bytes()
        stored = _stored_name(data)
        if stored is not None and name is not None and stored != name:
            raise KeyFileError(f"{path}: key is for {stored!r}, not {name!r}")
        chosen = name if name is not None else stored
        if chosen is None:
            raise KeyFileError(f"{path}: no key name recorded in the file and none given")
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path}: not an unencrypted PKCS#8 PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path}: not an Ed25519 key")
        return cls(chosen, key, mark)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key to a new file, mode 0600; never replaces an existing file."""
        target = Path(path)
        if not isinstance(self._key, Ed25519PrivateKey):
            raise KeyFileError("this key lives in a token: it is never written to a file")
        pem = self._key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        data = f"{_NAME_LABEL}{self.name}\n".encode() + pem
        try:
            # O_EXCL: the existence check and the creation are one atomic step.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _KEY_FILE_MODE)
        except FileExistsError as exc:
            raise KeyExistsError(f"{target}: refusing to overwrite an existing key file") from exc
        try:
            # The umask may only narrow the mode, but be explicit for the audit trail.
            os.fchmod(fd, _KEY_FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                target.unlink()
            raise
        os.close(fd)
        _fsync_dir(target.parent)

    def verifier(self) -> NoteVerifier:
        return self._verifier

    def history_verifiers(self) -> tuple[NoteVerifier, ...]:
        """This key and its predecessors: what the vault's own checkpoints are signed by."""
        return (*self.predecessors, self._verifier)

    def vkey(self) -> str:
        return self._verifier.vkey()

    def sign(self, text: bytes) -> NoteSignature:
        """One signature over `text`, for notes that gather several signers."""
        try:
            check_note_text(text)
        except VerificationError as exc:
            raise NoteTextError(exc.message) from exc
        if self.mark is not None:
            try:
                checkpoint = parse_checkpoint_body(text)
            except VerificationError as exc:
                raise NoteTextError(f"this key signs checkpoints only: {exc}") from exc
            # Raises WouldEquivocate before the private key is touched.
            self.mark.check(checkpoint.size, checkpoint.root)
        return NoteSignature(self.name, self.key_id, self._key.sign(text))

    def sign_note(self, text: bytes) -> bytes:
        """A complete signed note: text, blank line, this key's signature line."""
        return text + b"\n" + self.sign(text).line()

    def signed_durably(self, size: int, root: bytes, note: bytes) -> None:
        """The checkpoint of `size` is committed: raise the high-water mark to it.

        Called after the database commit and before the checkpoint is archived or
        returned to anyone (see `custody.watermark` for why then and not at signing).
        """
        if self.mark is not None:
            self.mark.advance(Mark(size, root, note))


def _stored_name(data: bytes) -> str | None:
    label = _NAME_LABEL.encode()
    for line in data.split(b"\n"):
        if line.startswith(b"-----BEGIN"):
            break
        if line.startswith(label):
            try:
                return line[len(label) :].decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise KeyFileError("the recorded key name is not UTF-8") from exc
    return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
