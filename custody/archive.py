"""Reading the ledger back from the write-once store, where it is the source of truth."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from custody.ledger import SEALS_PREFIX, TIMESTAMPS_PREFIX, StoredTimestamp
from storage.base import ObjectStore
from verify.checkpoint import parse_checkpoint_body
from verify.errors import MalformedInput, VerificationError
from verify.note import parse_note


@dataclass(frozen=True)
class ArchivedSeal:
    key: str
    first: int
    size: int
    events: tuple[bytes, ...]
    note: bytes


def read_seal(store: ObjectStore, key: str) -> ArchivedSeal:
    try:
        doc = json.loads(store.read_bytes(key))
        events = tuple(base64.b64decode(e, validate=True) for e in doc["events"])
        seal = ArchivedSeal(
            key, int(doc["first"]), int(doc["size"]), events, doc["checkpoint"].encode()
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise MalformedInput(f"archived seal {key} is unreadable: {exc}", subject=key) from exc
    if doc.get("format") != "locard-seal/1" or seal.size - seal.first != len(events):
        raise MalformedInput(f"archived seal {key} is inconsistent", subject=key)
    return seal


def iter_seals(store: ObjectStore) -> Iterator[ArchivedSeal]:
    """Seals in ledger order (keys are zero-padded sizes, so lexicographic is numeric)."""
    for key in store.list_keys(SEALS_PREFIX):
        if key.endswith(".json"):
            yield read_seal(store, key)


def read_timestamps(store: ObjectStore, size: int) -> list[StoredTimestamp]:
    out = []
    for key in store.list_keys(f"{TIMESTAMPS_PREFIX}{size:015d}/"):
        if not key.endswith(".json"):
            continue
        try:
            doc = json.loads(store.read_bytes(key))
            out.append(
                StoredTimestamp(
                    tsa=doc["tsa"],
                    tsr_der=base64.b64decode(doc["token"], validate=True),
                    gen_time=datetime.fromisoformat(doc["gen_time"]),
                    chain_der=tuple(base64.b64decode(c, validate=True) for c in doc["chain"]),
                )
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise MalformedInput(f"archived token {key} is unreadable: {exc}", subject=key) from exc
    return out


def seal_key(size: int) -> str:
    return f"{SEALS_PREFIX}{size:015d}.json"


def sealed_root(seal: ArchivedSeal) -> bytes:
    """The root the seal's checkpoint signs (its signature is checked by the caller)."""
    try:
        return parse_checkpoint_body(parse_note(seal.note).text).root
    except VerificationError as exc:
        raise MalformedInput(
            f"archived seal {seal.key} has no readable checkpoint: {exc}", subject=seal.key
        ) from exc


def archived_root(store: ObjectStore, size: int) -> bytes | None:
    """The root the archive holds for a checkpoint of `size`, or None if it holds none.

    One existence check in the common case (the size is new), so cheap enough to make
    before every signature.
    """
    key = seal_key(size)
    if not store.exists(key):
        return None
    return sealed_root(read_seal(store, key))


def last_seal(store: ObjectStore) -> ArchivedSeal | None:
    """The archive's newest seal (keys are zero-padded sizes, listed in order)."""
    last = None
    for key in store.list_keys(SEALS_PREFIX):
        if key.endswith(".json"):
            last = key
    return None if last is None else read_seal(store, last)
