"""Evidence records: a time-stamp token kept verifiable past its TSA certificate's expiry.

In the spirit of RFC 4998 (Evidence Record Syntax): before a token's TSA certificate expires
(or its hash algorithm weakens) the vault asks a TSA for a *renewal* token over a Merkle tree
whose leaves are the hashes of the tokens due. A token, its renewal, the renewal's renewal …
form an archive timestamp chain: each renewal proves the previous token existed while its
certificate was still valid, so the chain is valid at time T when its last token's chain is.

The record of one token (`locard-evidence-record/1`, JSON) lists its renewals in order; step
n covers leaf data SHA-256(token of step n-1) (step 1: the original token), with a reduced
hash tree (an RFC 9162 inclusion proof: leaf 0x00‖data, nodes 0x01‖l‖r) up to the renewal
token's imprint. Hash-tree renewal to another algorithm (RFC 4998 §5.2) is a later format:
`hash` names the one in use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from verify.errors import MalformedInput, TimestampExpired, TimestampRenewalError
from verify.merkle import leaf_hash, root_from_inclusion_proof
from verify.strict_json import load_strict_json
from verify.timestamp import TimestampInfo, tsa_certificate_chain, verify_timestamp

RECORD_FORMAT = "locard-evidence-record/1"
RECORD_HASH = "sha256"
#: one record per token: its renewals are a handful of kilobytes each
MAX_RECORD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class RenewalStep:
    seq: int
    tsa: str
    token: bytes  # DER TimeStampResp
    chain: tuple[bytes, ...]  # TSA certificate … root (DER)
    tree_size: int
    leaf_index: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class EvidenceRecord:
    #: SHA-256 of the renewed token's TimeStampResp DER
    covers: bytes
    renewals: tuple[RenewalStep, ...]


def leaf_data(token: bytes) -> bytes:
    """What a renewal's tree holds for a token: the SHA-256 of its TimeStampResp DER."""
    return hashlib.sha256(token).digest()


def record_json(covers: bytes, steps: Sequence[RenewalStep]) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "hash": RECORD_HASH,
        "covers": covers.hex(),
        "renewals": [
            {
                "seq": s.seq,
                "tsa": s.tsa,
                "token": base64.b64encode(s.token).decode(),
                "chain": [base64.b64encode(c).decode() for c in s.chain],
                "tree_size": s.tree_size,
                "leaf_index": s.leaf_index,
                "proof": [p.hex() for p in s.proof],
            }
            for s in steps
        ],
    }


def parse_record(data: bytes, source: str = "evidence record") -> EvidenceRecord:
    doc = load_strict_json(data, source, limit=MAX_RECORD_BYTES)
    if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT:
        raise MalformedInput(f"{source} is not a {RECORD_FORMAT} document")
    if doc.get("hash") != RECORD_HASH:
        raise MalformedInput(f"{source}: hash {str(doc.get('hash'))[:32]!r} is not {RECORD_HASH}")
    try:
        covers = bytes.fromhex(doc["covers"])
        steps = tuple(
            RenewalStep(
                seq=_int(s["seq"]),
                tsa=str(s["tsa"]),
                token=base64.b64decode(s["token"], validate=True),
                chain=tuple(base64.b64decode(c, validate=True) for c in s["chain"]),
                tree_size=_int(s["tree_size"]),
                leaf_index=_int(s["leaf_index"]),
                proof=tuple(bytes.fromhex(p) for p in s["proof"]),
            )
            for s in doc["renewals"]
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise MalformedInput(f"{source} is malformed: {exc}") from exc
    if len(covers) != 32:
        raise MalformedInput(f"{source}: 'covers' is not a SHA-256 digest")
    return EvidenceRecord(covers, steps)


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{value!r} is not a non-negative integer")
    return value


def chain_expiry(chain: Sequence[bytes]) -> datetime:
    """When the first certificate of a TSA chain expires: after it, the token needs renewal."""
    return min(x509.load_der_x509_certificate(c).not_valid_after_utc for c in chain)


Roots = Callable[[Sequence[bytes]], Sequence[bytes]]


def verify_at(
    token: bytes,
    info: TimestampInfo,
    chain: Sequence[bytes],
    at: datetime,
    record: EvidenceRecord | None,
    roots: Roots,
) -> str:
    """Whether a verified token (valid at its genTime, `chain` its validated path) still
    proves its time at `at`: directly while its chain is valid, else through its renewals.

    Raises `TimestampExpired` (no renewal carries it to `at`) or `TimestampRenewalError` (a
    renewal that does not cover the token, does not verify, or came after the expiry).
    """
    expiry = chain_expiry(chain)
    if at <= expiry:
        return f"valid at {at.isoformat()} (its TSA certificate expires {expiry.isoformat()})"
    if record is None or not record.renewals:
        raise TimestampExpired(
            f"the token's TSA certificate expired {expiry.isoformat()}, before the validation "
            f"time {at.isoformat()}, and no renewal covers it"
        )
    if record.covers != leaf_data(token):
        raise TimestampRenewalError("the evidence record is for another token")
    current, current_time = token, info.gen_time
    for step in record.renewals:
        subject = f"renewal {step.seq} ({step.tsa})"
        imprint = root_from_inclusion_proof(
            leaf_hash(leaf_data(current)), step.leaf_index, step.tree_size, step.proof
        )
        try:
            renewal = verify_timestamp(
                step.token, imprint, roots=roots(step.chain), intermediates=step.chain
            )
            step_chain = tsa_certificate_chain(
                step.token, roots=roots(step.chain), intermediates=step.chain
            )
        except TimestampRenewalError:
            raise
        except Exception as exc:
            raise TimestampRenewalError(f"does not verify: {exc}", subject=subject) from exc
        if renewal.gen_time > expiry:
            raise TimestampRenewalError(
                f"made {renewal.gen_time.isoformat()}, after the token it renews expired "
                f"({expiry.isoformat()})",
                subject=subject,
            )
        if renewal.gen_time < current_time:
            raise TimestampRenewalError("dated before the token it renews", subject=subject)
        current, current_time, expiry = step.token, renewal.gen_time, chain_expiry(step_chain)
        if at <= expiry:
            return (
                f"valid at {at.isoformat()} through {len(record.renewals)} renewal(s), the last "
                f"by {renewal.tsa_name or step.tsa} at {renewal.gen_time.isoformat()}"
            )
    raise TimestampExpired(
        f"its last renewal's TSA certificate expired {expiry.isoformat()}, before the "
        f"validation time {at.isoformat()}"
    )
