"""A witness's signing side: tlog-cosignature/v1 cosignatures under its own Ed25519 key."""

from __future__ import annotations

import time
from collections.abc import Callable

from custody.signing import NoteSigner
from verify.cosignature import CosignatureVerifier, cosigned_message
from verify.note import NoteSignature


class Cosigner:
    """Cosigns checkpoints as `name`; the key file is a `NoteSigner` key file."""

    def __init__(self, signer: NoteSigner, clock: Callable[[], float] = time.time) -> None:
        self.name = signer.name
        self._key = signer.private_key
        self._clock = clock
        self.verifier = CosignatureVerifier.from_public_key(self.name, self._key.public_key())

    def vkey(self) -> str:
        return self.verifier.vkey()

    def cosign(self, text: bytes) -> NoteSignature:
        """A cosignature line over a checkpoint's note text, timestamped now."""
        timestamp = max(1, int(self._clock()))
        signature = self._key.sign(cosigned_message(text, timestamp))
        return NoteSignature(
            self.name, self.verifier.key_id, timestamp.to_bytes(8, "big") + signature
        )
