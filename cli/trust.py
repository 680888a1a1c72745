"""Loading what an auditor pins (`--trusted-key`, `--trusted-tsa-ca`), shared by every command.

A bad pin is a PolicyError (exit 2), never a failed check: a mistyped key must not read
as tampered evidence. OSError is left to the caller, which knows how to phrase it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from verify.errors import PolicyError, VerificationError
from verify.keyhistory import Handover, parse_key_history
from verify.policy import VerificationPolicy, parse_trusted_keys
from verify.timestamp import load_pem_or_der_certs
from verify.witness_policy import WitnessPolicy, parse_witness_policy

#: Pins are a line or a small PEM file; a bigger file is a mistake, not a key.
MAX_PIN_FILE = 1024 * 1024
#: a hand-over is a few kilobytes; this allows thousands of rotations
MAX_HISTORY_FILE = 64 * 1024 * 1024


def read_small(path: Path, limit: int, what: str) -> bytes:
    """Read a whole file of at most `limit` bytes; OSError or PolicyError otherwise."""
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise PolicyError(f"{what} {path} is larger than {limit} bytes")
    return data


def trusted_keys(value: str) -> tuple[str, ...]:
    """A `--trusted-key` value: a verifier key itself, or a file holding one or more
    (one per line, `#` comments, or the vault's /v1/keys JSON)."""
    path = Path(value)
    try:
        is_file = path.is_file()
    except (OSError, ValueError):  # a key string too long, or with NUL, to be a path
        is_file = False
    if is_file:
        data = read_small(path, MAX_PIN_FILE, "--trusted-key file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"--trusted-key file {path} is not UTF-8 text") from exc
        return parse_trusted_keys(text, f"--trusted-key file {path}")
    if "+" not in value:
        # Every vkey contains '+', so this was meant as a file name.
        raise PolicyError(f"--trusted-key {value}: no such file, and not a verifier key")
    return parse_trusted_keys(value, "--trusted-key")


def trusted_roots(path: Path) -> list[bytes]:
    """DER certificates from a `--trusted-tsa-ca` PEM bundle or DER file."""
    try:
        return load_pem_or_der_certs(read_small(path, MAX_PIN_FILE, "--trusted-tsa-ca file"))
    except PolicyError:
        raise
    except VerificationError as exc:
        raise PolicyError(f"--trusted-tsa-ca {path}: {exc.message}") from exc


def policy_from_options(
    keys: Iterable[str] | None,
    cas: Iterable[Path] | None,
    origin: str | None = None,
    key_history: Path | None = None,
) -> VerificationPolicy:
    """The policy for the repeated `--trusted-key` / `--trusted-tsa-ca` options."""
    return VerificationPolicy(
        trusted_log_keys=tuple(k for value in keys or () for k in trusted_keys(value)),
        trusted_tsa_roots=tuple(der for ca in cas or () for der in trusted_roots(ca)),
        origin=origin,
        log_key_history=_key_history(key_history) if key_history is not None else (),
    )


def load_witness_policy(path: Path) -> WitnessPolicy:
    """A `--witness-policy` file; PolicyError when it cannot be used."""
    data = read_small(path, MAX_PIN_FILE, "--witness-policy file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"--witness-policy file {path} is not UTF-8 text") from exc
    return parse_witness_policy(text, f"--witness-policy file {path}")


def _key_history(path: Path) -> tuple[Handover, ...]:
    data = read_small(path, MAX_HISTORY_FILE, "--key-history file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"--key-history file {path} is not UTF-8 text") from exc
    return parse_key_history(text, f"--key-history file {path}")


def parse_validation_time(text: str) -> datetime:
    """`--at`: an ISO 8601 time with a zone (a bare date is midnight UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PolicyError(f"--at {text!r} is not an ISO 8601 time: {exc}") from exc
    if value.tzinfo is None:
        if "T" in text or " " in text:
            raise PolicyError(f"--at {text!r} has no time zone (add Z or +00:00)")
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
