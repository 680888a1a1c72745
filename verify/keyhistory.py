"""The log key's history: signed hand-overs from each key to the next.

A vault rotates its checkpoint key by sealing a `key.rotated` event under the old key. The
event names both keys and carries the new key's signature over a fixed statement (proof
that whoever rotated holds the new key). A hand-over record is that event, an inclusion
proof and the old key's checkpoint that includes it. From a pinned key and the records, in
order, the verifier learns which key signs which tree sizes:

* the old key up to and including the hand-over checkpoint's size N: a checkpoint it signs
  beyond N is refused, so a key stolen after its retirement forges nothing new;
* the new key from size N on.

Nothing here trusts the vault: every step is signed by a key already trusted.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verify.checkpoint import parse_checkpoint_body
from verify.errors import KeyMismatch, MalformedInput, PolicyError, VerificationError
from verify.event_types import EventType
from verify.events import decode_event
from verify.merkle import leaf_hash, verify_inclusion
from verify.note import NoteVerifier, parse_note, verify_checkpoint_note
from verify.strict_json import load_strict_json

HANDOVER_FORMAT = "locard-key-handover/1"
#: bound on a history read from a file: ten thousand rotations is far beyond any vault's life
MAX_HANDOVERS = 10_000
MAX_PROOF = 64


def handover_statement(origin: str, old_key: str, new_key: str) -> bytes:
    """What the new key signs: its own name in the hand-over, for this log and this old key."""
    return f"locard key hand-over\n{origin}\n{old_key}\n{new_key}\n".encode()


@dataclass(frozen=True)
class Handover:
    origin: str
    old_key: str
    new_key: str
    #: leaf index of the sealed `key.rotated` event
    index: int
    event: bytes
    #: the old key's signed checkpoint that includes the event
    checkpoint: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": HANDOVER_FORMAT,
            "origin": self.origin,
            "old_key": self.old_key,
            "new_key": self.new_key,
            "index": self.index,
            "event": base64.b64encode(self.event).decode(),
            "checkpoint": self.checkpoint.decode(),
            "proof": [base64.b64encode(h).decode() for h in self.proof],
        }

    @classmethod
    def from_json(cls, doc: Any) -> Handover:
        try:
            if doc["format"] != HANDOVER_FORMAT:
                raise MalformedInput(f"a key hand-over is {doc['format']!r}, not {HANDOVER_FORMAT}")
            index = doc["index"]
            proof = doc["proof"]
            if type(index) is not int or index < 0:
                raise MalformedInput("a key hand-over's index is not a leaf index")
            if not isinstance(proof, list) or len(proof) > MAX_PROOF:
                raise MalformedInput("a key hand-over's proof is not a list of hashes")
            return cls(
                origin=str(doc["origin"]),
                old_key=str(doc["old_key"]),
                new_key=str(doc["new_key"]),
                index=index,
                event=base64.b64decode(doc["event"], validate=True),
                checkpoint=str(doc["checkpoint"]).encode(),
                proof=tuple(base64.b64decode(h, validate=True) for h in proof),
            )
        except (KeyError, TypeError, binascii.Error, ValueError) as exc:
            raise MalformedInput(f"a key hand-over is malformed: {exc}") from exc


def parse_key_history(text: str, source: str = "key history") -> tuple[Handover, ...]:
    """Hand-overs from a JSON list, or from the vault's `/v1/keys` answer (`log_key_history`)."""
    try:
        doc = load_strict_json(text, source)
        items = doc.get("log_key_history") if isinstance(doc, dict) else doc
        if not isinstance(items, list) or len(items) > MAX_HANDOVERS:
            raise MalformedInput(f"{source}: not a list of key hand-overs")
        return tuple(Handover.from_json(item) for item in items)
    except VerificationError as exc:
        raise PolicyError(f"{source}: {exc.message}") from exc


@dataclass(frozen=True)
class KeyEra:
    """A key and the checkpoint sizes it is trusted for (both ends inclusive)."""

    verifier: NoteVerifier
    first_size: int
    last_size: int | None
    #: the size of the hand-over that made this key trusted (None: pinned directly)
    handed_over_at: int | None = None

    def covers(self, size: int) -> bool:
        return size >= self.first_size and (self.last_size is None or size <= self.last_size)


def key_eras(
    pinned: NoteVerifier, history: Sequence[Handover], origin: str | None = None
) -> tuple[KeyEra, ...]:
    """Walk the hand-overs from `pinned`; every step must be signed by the key before it.

    Raises KeyMismatch (a hand-over from another key) or the failing check's error.
    """
    eras: list[KeyEra] = []
    current, first, via = pinned, 0, None
    for n, h in enumerate(history, start=1):
        where = f"key hand-over #{n}"
        try:
            old = NoteVerifier.from_vkey(h.old_key)
            new = NoteVerifier.from_vkey(h.new_key)
        except ValueError as exc:
            raise MalformedInput(f"{where}: an unusable key: {exc}") from exc
        if old != current:
            raise KeyMismatch(f"{where} is from key {h.old_key}, not the trusted {current.vkey()}")
        cp = verify_checkpoint_note(h.checkpoint, current, origin=origin or h.origin)
        if cp.origin != h.origin:
            raise KeyMismatch(f"{where}: its checkpoint is for log {cp.origin!r}")
        if cp.size < first:
            raise KeyMismatch(f"{where}: its checkpoint (size {cp.size}) predates the key's era")
        verify_inclusion(leaf_hash(h.event), h.index, cp.size, h.proof, cp.root)
        ev = decode_event(h.event)
        body = ev.body
        if ev.type != EventType.key_rotated or body.get("old_key") != h.old_key:
            raise KeyMismatch(f"{where}: leaf {h.index} is not the hand-over from this key")
        if body.get("new_key") != h.new_key:
            raise KeyMismatch(f"{where}: the sealed event names another new key")
        try:
            signature = base64.b64decode(str(body.get("new_key_signature")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedInput(f"{where}: the new key's signature is not base64") from exc
        if not new.verify(handover_statement(cp.origin, h.old_key, h.new_key), signature):
            raise KeyMismatch(f"{where}: the new key did not sign the hand-over")
        eras.append(KeyEra(current, first, cp.size, via))
        current, first, via = new, cp.size, cp.size
    eras.append(KeyEra(current, first, None, via))
    return tuple(eras)


def claimed_size(note: bytes) -> int | None:
    """The size a checkpoint note claims, read before any signature is checked, only to
    choose which key must have signed it (None: unreadable, the signature check says why)."""
    try:
        return parse_checkpoint_body(parse_note(note).text).size
    except VerificationError:
        return None
