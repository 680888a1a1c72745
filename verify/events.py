"""Custody events as the verifier sees them: RFC 8785 canonical JSON with a fixed shape.

The vault writes events and the auditor reads them with the same code, so that
"what was hashed into the ledger" has exactly one definition.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

from verify.errors import CanonicalEncodingError
from verify.merkle import leaf_hash

EVENT_VERSION = 1
_FIELDS = frozenset({"v", "type", "case", "item", "actor", "at", "prev", "body"})
# Always used with fullmatch (`$` in match() also accepts a trailing newline); ASCII
# digits only, since `\d` also matches other scripts' digits.
_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


@dataclass(frozen=True)
class Event:
    """A decoded, shape-checked custody event."""

    type: str
    case: str | None
    item: str | None
    actor_id: str
    actor_role: str
    at: datetime
    prev: bytes | None
    body: dict[str, Any]
    canonical: bytes

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.canonical)

    @property
    def chain_key(self) -> str:
        return chain_key(self.case, self.item)

    def as_json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.canonical)
        return loaded


def chain_key(case: str | None, item: str | None) -> str:
    """The per-item hash chain an event belongs to.

    Item ids are globally unique; events about a case as a whole chain per case, and
    vault-level events (key rotation) form their own chain.
    """
    if item:
        return f"item:{item}"
    if case:
        return f"case:{case}"
    return "vault"


def format_time(at: datetime) -> str:
    """UTC with exactly microsecond precision, so the encoding of a time is unique."""
    if at.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_event(
    *,
    type: str,
    case: str | None,
    item: str | None,
    actor_id: str,
    actor_role: str,
    at: datetime,
    prev: bytes | None,
    body: dict[str, Any],
) -> bytes:
    """Canonical bytes of an event; the inverse of `decode_event`."""
    doc: dict[str, Any] = {
        "v": EVENT_VERSION,
        "type": type,
        "case": case,
        "item": item,
        "actor": {"id": actor_id, "role": actor_role},
        "at": format_time(at),
        "prev": prev.hex() if prev is not None else None,
        "body": body,
    }
    data = canonicalize(doc)
    # The reader's shape rules, applied to the writer's document (no second encoding).
    event_from_json(doc, data)
    return data


_SAFE_INT = 2**53 - 1


def _plain(obj: Any) -> bool:
    """True when the C json encoder's output is already RFC 8785 for `obj`.

    That holds for strings, integers within ±(2^53-1), booleans, null, arrays, and
    objects whose keys are all in the BMP (UTF-16 and code-point order then agree).
    Floats and anything else go through the reference implementation.
    """
    t = type(obj)
    if t is str or t is bool or obj is None:
        return True
    if t is int:
        return bool(-_SAFE_INT <= obj <= _SAFE_INT)
    if t is dict:
        for k, v in obj.items():
            if type(k) is not str or not (k.isascii() or max(map(ord, k)) <= 0xFFFF):
                return False
            if not _plain(v):
                return False
        return True
    if t is list:
        return all(_plain(v) for v in obj)
    return False


def canonicalize(obj: Any) -> bytes:
    """RFC 8785 bytes of `obj`; CanonicalEncodingError for anything JSON cannot hold exactly.

    Sealing encodes every event, and the pure-Python reference is ~10x slower than the
    C encoder; tests/verify/test_canonical.py checks both give identical bytes.
    """
    try:
        if _plain(obj):
            return json.dumps(
                obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
            ).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        pass  # lone surrogates or deep nesting: let the reference report it
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        # ValueError covers lone surrogates, which have no UTF-8 encoding.
        raise CanonicalEncodingError(f"not canonicalisable JSON: {exc}") from exc
    except RecursionError as exc:
        raise CanonicalEncodingError("JSON is nested too deeply to canonicalise") from exc


def decode_event(data: bytes) -> Event:
    """Parse event bytes, insisting they are canonical and well-shaped."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CanonicalEncodingError(f"event is not JSON: {exc}") from exc
    if canonicalize(doc) != data:
        raise CanonicalEncodingError("event bytes are not RFC 8785 canonical")
    return event_from_json(doc, data)


def event_from_json(doc: Any, canonical: bytes | None = None) -> Event:
    """Shape-check a decoded event; `canonical` defaults to its RFC 8785 encoding."""
    if not isinstance(doc, dict):
        raise CanonicalEncodingError("event is not a JSON object")
    if set(doc) != _FIELDS:
        missing = sorted(_FIELDS - set(doc))
        extra = sorted(set(doc) - _FIELDS)
        raise CanonicalEncodingError(f"event fields wrong (missing {missing}, unexpected {extra})")
    # `type(...) is int`: True == 1 in Python, and 1.0 would canonicalise to 1 anyway.
    if type(doc["v"]) is not int or doc["v"] != EVENT_VERSION:
        raise CanonicalEncodingError(f"unsupported event version {doc['v']!r}")
    etype = doc["type"]
    if not isinstance(etype, str) or not re.fullmatch(r"[a-z][a-z_.]{0,63}", etype):
        raise CanonicalEncodingError(f"bad event type {etype!r}")
    for field in ("case", "item"):
        value = doc[field]
        if value is not None and not (isinstance(value, str) and _NAME.fullmatch(value)):
            raise CanonicalEncodingError(f"bad {field} identifier {value!r}")
    actor = doc["actor"]
    if (
        not isinstance(actor, dict)
        or set(actor) != {"id", "role"}
        or not all(isinstance(actor[k], str) and actor[k] for k in ("id", "role"))
    ):
        raise CanonicalEncodingError("actor must be {id, role} with non-empty strings")
    at = doc["at"]
    if not isinstance(at, str) or not _AT.fullmatch(at):
        raise CanonicalEncodingError(f"bad event time {at!r}: want YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        # The pattern fixed the shape; fromisoformat checks the ranges (month 13, Feb 30)
        # at a tenth of strptime's cost, which every seal and every audit pays per event.
        when = datetime.fromisoformat(at[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise CanonicalEncodingError(f"bad event time {at!r}") from exc
    prev = doc["prev"]
    if prev is not None and not (isinstance(prev, str) and _HEX64.fullmatch(prev)):
        raise CanonicalEncodingError("prev must be null or 64 lowercase hex digits")
    body = doc["body"]
    if not isinstance(body, dict):
        raise CanonicalEncodingError("body must be a JSON object")
    return Event(
        type=etype,
        case=doc["case"],
        item=doc["item"],
        actor_id=actor["id"],
        actor_role=actor["role"],
        at=when,
        prev=bytes.fromhex(prev) if prev is not None else None,
        body=body,
        canonical=canonical if canonical is not None else canonicalize(doc),
    )
