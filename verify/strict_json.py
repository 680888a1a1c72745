"""Strict JSON for evidence: one reading of a document, whoever parses it.

Receipts, bundle manifests, proofs and pinned key files are hostile input. These helpers refuse
what two JSON parsers could read differently (duplicate keys, numbers that would not survive
RFC 8785 canonicalisation, lone surrogates), and give each hash, base64 value and label one
accepted spelling. Every refusal is a typed `MalformedInput` (or `CanonicalEncodingError`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from decimal import Decimal
from typing import Any

from verify.errors import CanonicalEncodingError, MalformedInput

#: Evidence documents are kilobytes (a receipt: log2(n) hashes and a token or two); anything
#: near this is not one, and reading it whole would let a hostile file exhaust memory.
MAX_JSON_BYTES = 16 * 1024 * 1024
LABEL_MAX = 256
_HASH_HEX = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            # Parsers disagree on which duplicate wins, so two readers could see two events.
            raise MalformedInput(f"duplicate JSON key {key[:64]!r}")
        doc[key] = value
    return doc


def exact_float(text: str) -> float:
    value = float(text)
    # The event is hashed in its RFC 8785 form, which writes the shortest round-trip
    # spelling of the double. A literal denoting any other decimal (more digits than a
    # double holds, or out of range) would be shown to a reader as one number and hashed
    # as another.
    if not math.isfinite(value) or Decimal(text) != Decimal(repr(value)):
        raise CanonicalEncodingError(
            f"number {text[:40]} has no exact canonical form (it would be hashed as {value!r})"
        )
    return value


def no_constant(name: str) -> Any:
    raise MalformedInput(f"{name} is not a JSON number")


def load_strict_json(
    data: bytes | str, what: str = "receipt", *, limit: int = MAX_JSON_BYTES
) -> Any:
    """Parse JSON the way a careful second implementation would, refusing what is ambiguous.

    Raises MalformedInput for non-UTF-8, invalid or too deeply nested JSON, NaN/Infinity,
    duplicate keys and lone surrogates; CanonicalEncodingError for numbers that would not
    survive canonicalisation unchanged.
    """
    if len(data) > limit:
        raise MalformedInput(f"{what} is larger than {limit} bytes")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedInput(f"{what} is not UTF-8 text") from exc
    else:
        text = data
    try:
        doc = json.loads(
            text,
            object_pairs_hook=no_duplicate_keys,
            parse_float=exact_float,
            parse_constant=no_constant,
        )
    except RecursionError as exc:
        raise MalformedInput(f"{what} JSON is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and int() refusing thousands of digits
        raise MalformedInput(f"{what} is not valid JSON: {exc}") from exc
    require_unicode(doc, what)
    return doc


def require_unicode(doc: Any, what: str) -> None:
    # JSON may spell lone surrogates (\ud800); they have no UTF-8 form, so they could be
    # neither hashed nor printed.
    try:
        json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedInput(f"{what} contains text that is not valid Unicode") from exc
    except (TypeError, ValueError) as exc:  # a caller's dict holding non-JSON values
        raise MalformedInput(f"{what} is not JSON data: {exc}") from exc
    except RecursionError as exc:
        raise MalformedInput(f"{what} JSON is nested too deeply") from exc


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {int: "an integer", float: "a number", str: "a string", list: "an array"}.get(
        type(value), "an object"
    )


def hash_hex(value: Any, what: str) -> bytes:
    # One spelling per hash: bytes.fromhex would also take upper case and spaces.
    if not isinstance(value, str) or not _HASH_HEX.fullmatch(value):
        raise MalformedInput(f"{what} is not a SHA-256 hash in 64 lowercase hex digits")
    return bytes.fromhex(value)


def b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedInput(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput(f"{what} is not valid base64") from exc


def label(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > LABEL_MAX:
        raise MalformedInput(f"{what} must be a non-empty string of at most {LABEL_MAX} chars")
    if _CONTROL.search(value):
        raise MalformedInput(f"{what} contains a control character")
    return value
