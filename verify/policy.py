"""What the verifier trusts: the pinned log keys and TSA roots, and how pins are read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from verify.errors import PolicyError, VerificationError
from verify.keyhistory import Handover
from verify.note import NoteVerifier
from verify.strict_json import load_strict_json
from verify.witness_policy import WitnessPolicy


@dataclass(frozen=True)
class VerificationPolicy:
    """What the verifier trusts. Empty pins mean "trust what the evidence carries" (reported)."""

    trusted_log_keys: tuple[str, ...] = ()
    trusted_tsa_roots: tuple[bytes, ...] = ()
    origin: str | None = None
    require_timestamp: bool = True
    #: require a quorum of witness cosignatures on each checkpoint (None: not checked)
    witness_policy: WitnessPolicy | None = None
    #: hand-overs from a pinned key to its successors (`verify.keyhistory`), in order
    log_key_history: tuple[Handover, ...] = ()
    #: judge tokens at this time (a future date): a token whose TSA certificate expired by
    #: then verifies only through a renewal made before that expiry (`verify.renewal`).
    #: None: each token at its own genTime, as a token proves its time forever once checked.
    validation_time: datetime | None = None


def parse_trusted_keys(text: str, source: str = "trusted key") -> tuple[str, ...]:
    """Verifier keys from what an auditor pins: one vkey, a file of them, or /v1/keys JSON.

    Text form: one `<name>+<key ID>+<key>` per line; blank lines and `#` comments are
    ignored. JSON form: the vault's `/v1/keys` answer (its `log_key`). Raises PolicyError.
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = load_strict_json(stripped, source)
        except VerificationError as exc:
            raise PolicyError(f"{source}: {exc}") from exc
        key = doc.get("log_key") if isinstance(doc, dict) else None
        if not isinstance(key, str):
            raise PolicyError(f"{source}: JSON without a 'log_key' string")
        candidates = [key]
    else:
        candidates = [
            line.strip()
            for line in stripped.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    if not candidates:
        raise PolicyError(f"{source}: no verifier key in it")
    for key in candidates:
        pinned_verifier(key, source)
    return tuple(candidates)


def pinned_verifier(vkey: str, source: str) -> NoteVerifier:
    try:
        return NoteVerifier.from_vkey(vkey)
    except VerificationError as exc:
        raise PolicyError(
            f"{source} is not a verifier key (<name>+<key ID>+<base64 key>): {exc.message}"
        ) from exc
    except ValueError as exc:  # key bytes the Ed25519 implementation refuses
        raise PolicyError(f"{source} is not a usable Ed25519 key: {exc}") from exc
