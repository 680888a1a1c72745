"""The receipt wire format, `locard-receipt/1`: one definition for its writer and its reader.

The vault writes receipts with `receipt_json` (custody.ledger.Receipt.to_json) and the verifier
reads them with `parse_receipt`; the checks themselves are in `verify.verifier`. A receipt is
self-contained: the event, its inclusion proof, the signed checkpoint, the RFC 3161 tokens with
their certificate chains, and the log key (see the README, "Receipts").
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from verify.checkpoint import MAX_TREE_SIZE
from verify.errors import MalformedInput
from verify.events import Event, event_from_json
from verify.renewal import EvidenceRecord
from verify.strict_json import (
    MAX_JSON_BYTES,
    b64,
    hash_hex,
    json_type,
    label,
    load_strict_json,
    require_unicode,
)

RECEIPT_FORMAT = "locard-receipt/1"
MAX_RECEIPT_BYTES = MAX_JSON_BYTES
_KNOWN_FIELDS = frozenset(
    {
        "format",
        "origin",
        "event",
        "leaf_index",
        "leaf_hash",
        "tree_size",
        "inclusion_proof",
        "checkpoint",
        "timestamps",
        "timestamps_pending",
        "log_key",
    }
)


@dataclass(frozen=True)
class TimestampEvidence:
    tsa: str
    token: bytes
    chain: tuple[bytes, ...]
    #: its renewals (bundles `/3`), which carry it past its TSA certificate's expiry
    renewal: EvidenceRecord | None = None


@dataclass(frozen=True)
class ParsedReceipt:
    origin: str
    event: Event
    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint_note: bytes
    timestamps: tuple[TimestampEvidence, ...]
    timestamps_pending: int
    log_key: str
    unknown_fields: tuple[str, ...] = ()


def timestamp_entry(
    tsa: str, gen_time: datetime, token: bytes, chain: Sequence[bytes]
) -> dict[str, Any]:
    """One element of a receipt's `timestamps`: the token and the chain it was issued under."""
    return {
        "tsa": tsa,
        "gen_time": gen_time.astimezone(UTC).isoformat(),
        "token": base64.b64encode(token).decode(),
        "chain": [base64.b64encode(c).decode() for c in chain],
    }


def receipt_json(
    *,
    origin: str,
    log_key: str,
    event: bytes,
    leaf_index: int,
    leaf_hash: bytes,
    tree_size: int,
    inclusion_proof: Sequence[bytes],
    checkpoint: bytes,
    timestamps: Sequence[dict[str, Any]],
    timestamps_pending: int,
) -> dict[str, Any]:
    """A `locard-receipt/1` document; `event` is the canonical leaf bytes."""
    return {
        "format": RECEIPT_FORMAT,
        "origin": origin,
        "event": json.loads(event),
        "leaf_index": leaf_index,
        "leaf_hash": leaf_hash.hex(),
        "tree_size": tree_size,
        "inclusion_proof": [h.hex() for h in inclusion_proof],
        "checkpoint": checkpoint.decode(),
        "timestamps": list(timestamps),
        "timestamps_pending": timestamps_pending,
        "log_key": log_key,
    }


def _field(doc: dict[str, Any], name: str, kind: type) -> Any:
    if name not in doc:
        raise MalformedInput(f"receipt lacks '{name}'")
    value = doc[name]
    # bool is an int subclass: `true` must not pass as a leaf index.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedInput(
            f"receipt field '{name}' must be {_KIND_NAMES[kind]}, not {json_type(value)}"
        )
    return value


_KIND_NAMES: dict[type, str] = {
    int: "an integer",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _timestamp_evidence(i: int, t: Any) -> TimestampEvidence:
    if not isinstance(t, dict):
        raise MalformedInput(f"timestamp {i} is not an object")
    chain = t.get("chain")
    if not isinstance(chain, list):
        raise MalformedInput(f"timestamp {i} lacks its certificate chain array")
    return TimestampEvidence(
        tsa=label(t.get("tsa", f"tsa-{i}"), f"timestamp {i} TSA name"),
        token=b64(t.get("token"), f"timestamp {i} token"),
        chain=tuple(b64(c, f"timestamp {i} certificate {j}") for j, c in enumerate(chain)),
    )


def parse_receipt(data: bytes | str | dict[str, Any]) -> ParsedReceipt:
    """Decode a receipt without trusting anything in it yet.

    Raises MalformedInput (or its CanonicalEncodingError cousin for the event) for anything
    that is not a well-formed `locard-receipt/1` document.
    """
    if isinstance(data, dict):
        doc: Any = data
        require_unicode(doc, "receipt")
    elif isinstance(data, bytes | str):
        doc = load_strict_json(data)
    else:
        raise MalformedInput(f"a receipt is JSON text or an object, not {type(data).__name__}")
    if not isinstance(doc, dict):
        raise MalformedInput(f"receipt is {json_type(doc)}, not a JSON object")
    if doc.get("format") != RECEIPT_FORMAT:
        found = doc.get("format")
        shown = repr(found[:64]) if isinstance(found, str) else json_type(found)
        raise MalformedInput(f"not a {RECEIPT_FORMAT} document (format is {shown})")
    index = _field(doc, "leaf_index", int)
    size = _field(doc, "tree_size", int)
    if index < 0:
        raise MalformedInput(f"leaf_index {index} is negative")
    if not 1 <= size <= MAX_TREE_SIZE:
        raise MalformedInput(f"tree_size {size} is not between 1 and 2^64-1")
    pending = doc.get("timestamps_pending", 0)
    if not isinstance(pending, int) or isinstance(pending, bool) or pending < 0:
        raise MalformedInput("timestamps_pending must be a non-negative integer")
    proof = _field(doc, "inclusion_proof", list)
    event = _field(doc, "event", dict)
    return ParsedReceipt(
        origin=label(_field(doc, "origin", str), "origin"),
        event=event_from_json(event),
        leaf_index=index,
        leaf_hash=hash_hex(_field(doc, "leaf_hash", str), "leaf_hash"),
        tree_size=size,
        inclusion_proof=tuple(
            hash_hex(h, f"inclusion proof hash {i}") for i, h in enumerate(proof)
        ),
        checkpoint_note=_field(doc, "checkpoint", str).encode("utf-8"),
        timestamps=tuple(
            _timestamp_evidence(i, t) for i, t in enumerate(_field(doc, "timestamps", list))
        ),
        timestamps_pending=pending,
        log_key=_field(doc, "log_key", str),
        unknown_fields=tuple(sorted(set(doc) - _KNOWN_FIELDS)),
    )
