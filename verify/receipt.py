"""Offline verification of a Locard receipt: no database, no server, no network.

The chain of checks is event -> leaf hash -> inclusion proof -> signed checkpoint ->
RFC 3161 token(s) -> collector signature -> (optionally) the artifact bytes. A later check
only runs when the ones it builds on passed, so the first failure is the one that matters.

Every failure is a typed `VerificationError` recorded as a failed `Check`; nothing a
receipt contains can make `verify_receipt` raise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from verify.artifacts import verify_artifact_file
from verify.checkpoint import MAX_TREE_SIZE, Checkpoint
from verify.errors import (
    CanonicalEncodingError,
    CheckpointOriginMismatch,
    InternalError,
    KeyMismatch,
    LeafHashMismatch,
    MalformedInput,
    PolicyError,
    TimestampChainError,
    TimestampError,
    TreeSizeMismatch,
    VerificationError,
)
from verify.events import Event, event_from_json
from verify.manifest import check_ingest_signature
from verify.merkle import verify_inclusion
from verify.note import NoteVerifier, verify_checkpoint_note
from verify.times import check_event_time, tightest_bound
from verify.timestamp import TimestampInfo, verify_timestamp

RECEIPT_FORMAT = "locard-receipt/1"
#: A receipt is a few kilobytes (log2(n) hashes and a token or two); anything near this is
#: not a receipt, and reading it whole would let a hostile file exhaust memory.
MAX_RECEIPT_BYTES = 16 * 1024 * 1024

_HASH_HEX = re.compile(r"[0-9a-f]{64}")
_LABEL_MAX = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
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

T = TypeVar("T")


@dataclass(frozen=True)
class VerificationPolicy:
    """What the verifier trusts. Empty pins mean "trust what the evidence carries" (reported)."""

    trusted_log_keys: tuple[str, ...] = ()
    trusted_tsa_roots: tuple[bytes, ...] = ()
    origin: str | None = None
    require_timestamp: bool = True


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    error: VerificationError | None = None

    @property
    def check(self) -> str | None:
        """The stable identifier of the failure (`VerificationError.check`), None if it passed."""
        return self.error.check if self.error is not None else None


#: The verdicts a report can reach (`Report.verdict`).
VERIFIED = "verified"
FAILED = "failed"
UNPINNED = "unpinned"
#: What a verifier must pin for a pass to mean anything (`Report.unpinned` names them).
PIN_LOG_KEY = "log key"
PIN_TSA_ROOT = "TSA root"


@dataclass
class Report:
    subject: str
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: trust anchors the verifier was not given, so the evidence's own were used
    #: (PIN_LOG_KEY, PIN_TSA_ROOT): checks may pass, but the evidence is then NOT verified
    unpinned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed (see `verified` for whether that proves anything)."""
        # A report with no checks proves nothing, so it must never read as a pass.
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def verified(self) -> bool:
        """Every check passed against pinned trust anchors."""
        return self.ok and not self.unpinned

    @property
    def verdict(self) -> str:
        if not self.ok:
            return FAILED
        return UNPINNED if self.unpinned else VERIFIED

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if not c.ok), None)

    def fail(self, name: str, error: VerificationError) -> None:
        self.checks.append(Check(name, False, str(error), error))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def run(self, name: str, fn: Callable[[], str]) -> bool:
        """Record one check: its detail on success, a failed check on any exception."""
        ok, _ = self._attempt(name, lambda: (None, fn()))
        return ok

    def step(self, name: str, fn: Callable[[], tuple[T, str]]) -> T | None:
        """Like `run`, for a check whose (non-None) result later checks build on.

        Returns None when the check failed.
        """
        ok, value = self._attempt(name, fn)
        return value if ok else None

    def _attempt(self, name: str, fn: Callable[[], tuple[T, str]]) -> tuple[bool, T | None]:
        try:
            value, detail = fn()
        except VerificationError as exc:
            self.fail(name, exc)
            return False, None
        except Exception as exc:
            # Evidence is hostile input: an unforeseen exception is still a failed check,
            # never a pass and never a crash of the caller (the CLI must not print a traceback).
            error = InternalError(f"unexpected {type(exc).__name__}: {exc}")
            error.__cause__ = exc
            self.fail(name, error)
            return False, None
        self.checks.append(Check(name, True, detail))
        return True, value

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "verdict": self.verdict,
            "unpinned": self.unpinned,
            "checks": [
                {
                    "name": c.name,
                    "ok": c.ok,
                    "detail": c.detail,
                    "error": type(c.error).__name__ if c.error else None,
                    "check": c.check,
                }
                for c in self.checks
            ],
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class TimestampEvidence:
    tsa: str
    token: bytes
    chain: tuple[bytes, ...]


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


# -- strict JSON ---------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            # Parsers disagree on which duplicate wins, so two readers could see two events.
            raise MalformedInput(f"duplicate JSON key {key[:64]!r}")
        doc[key] = value
    return doc


def _exact_float(text: str) -> float:
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


def _no_constant(name: str) -> Any:
    raise MalformedInput(f"{name} is not a JSON number")


def load_strict_json(data: bytes | str, what: str = "receipt") -> Any:
    """Parse JSON the way a careful second implementation would, refusing what is ambiguous.

    Raises MalformedInput for non-UTF-8, invalid or too deeply nested JSON, NaN/Infinity,
    duplicate keys and lone surrogates; CanonicalEncodingError for numbers that would not
    survive canonicalisation unchanged.
    """
    if len(data) > MAX_RECEIPT_BYTES:
        raise MalformedInput(f"{what} is larger than {MAX_RECEIPT_BYTES} bytes")
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
            object_pairs_hook=_no_duplicate_keys,
            parse_float=_exact_float,
            parse_constant=_no_constant,
        )
    except RecursionError as exc:
        raise MalformedInput(f"{what} JSON is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and int() refusing thousands of digits
        raise MalformedInput(f"{what} is not valid JSON: {exc}") from exc
    _require_unicode(doc, what)
    return doc


def _require_unicode(doc: Any, what: str) -> None:
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


# -- receipt fields ------------------------------------------------------------------------


def _field(doc: dict[str, Any], name: str, kind: type) -> Any:
    if name not in doc:
        raise MalformedInput(f"receipt lacks '{name}'")
    value = doc[name]
    # bool is an int subclass: `true` must not pass as a leaf index.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedInput(
            f"receipt field '{name}' must be {_KIND_NAMES[kind]}, not {_json_type(value)}"
        )
    return value


_KIND_NAMES: dict[type, str] = {
    int: "an integer",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {int: "an integer", float: "a number", str: "a string", list: "an array"}.get(
        type(value), "an object"
    )


def _hash_hex(value: Any, what: str) -> bytes:
    # One spelling per hash: bytes.fromhex would also take upper case and spaces.
    if not isinstance(value, str) or not _HASH_HEX.fullmatch(value):
        raise MalformedInput(f"{what} is not a SHA-256 hash in 64 lowercase hex digits")
    return bytes.fromhex(value)


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedInput(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput(f"{what} is not valid base64") from exc


def _label(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _LABEL_MAX:
        raise MalformedInput(f"{what} must be a non-empty string of at most {_LABEL_MAX} chars")
    if _CONTROL.search(value):
        raise MalformedInput(f"{what} contains a control character")
    return value


def _timestamp_evidence(i: int, t: Any) -> TimestampEvidence:
    if not isinstance(t, dict):
        raise MalformedInput(f"timestamp {i} is not an object")
    chain = t.get("chain")
    if not isinstance(chain, list):
        raise MalformedInput(f"timestamp {i} lacks its certificate chain array")
    return TimestampEvidence(
        tsa=_label(t.get("tsa", f"tsa-{i}"), f"timestamp {i} TSA name"),
        token=_b64(t.get("token"), f"timestamp {i} token"),
        chain=tuple(_b64(c, f"timestamp {i} certificate {j}") for j, c in enumerate(chain)),
    )


def parse_receipt(data: bytes | str | dict[str, Any]) -> ParsedReceipt:
    """Decode a receipt without trusting anything in it yet.

    Raises MalformedInput (or its CanonicalEncodingError cousin for the event) for anything
    that is not a well-formed `locard-receipt/1` document.
    """
    if isinstance(data, dict):
        doc: Any = data
        _require_unicode(doc, "receipt")
    elif isinstance(data, bytes | str):
        doc = load_strict_json(data)
    else:
        raise MalformedInput(f"a receipt is JSON text or an object, not {type(data).__name__}")
    if not isinstance(doc, dict):
        raise MalformedInput(f"receipt is {_json_type(doc)}, not a JSON object")
    if doc.get("format") != RECEIPT_FORMAT:
        found = doc.get("format")
        shown = repr(found[:64]) if isinstance(found, str) else _json_type(found)
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
        origin=_label(_field(doc, "origin", str), "origin"),
        event=event_from_json(event),
        leaf_index=index,
        leaf_hash=_hash_hex(_field(doc, "leaf_hash", str), "leaf_hash"),
        tree_size=size,
        inclusion_proof=tuple(
            _hash_hex(h, f"inclusion proof hash {i}") for i, h in enumerate(proof)
        ),
        checkpoint_note=_field(doc, "checkpoint", str).encode("utf-8"),
        timestamps=tuple(
            _timestamp_evidence(i, t) for i, t in enumerate(_field(doc, "timestamps", list))
        ),
        timestamps_pending=pending,
        log_key=_field(doc, "log_key", str),
        unknown_fields=tuple(sorted(set(doc) - _KNOWN_FIELDS)),
    )


# -- trust settings ------------------------------------------------------------------------


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
        _pinned_verifier(key, source)
    return tuple(candidates)


def _pinned_verifier(vkey: str, source: str) -> NoteVerifier:
    try:
        return NoteVerifier.from_vkey(vkey)
    except VerificationError as exc:
        raise PolicyError(
            f"{source} is not a verifier key (<name>+<key ID>+<base64 key>): {exc.message}"
        ) from exc
    except ValueError as exc:  # key bytes the Ed25519 implementation refuses
        raise PolicyError(f"{source} is not a usable Ed25519 key: {exc}") from exc


class Verifier:
    """Checks receipts (and, via verify.bundle, bundles) against a policy.

    Raises PolicyError at construction when a pin is unusable, so that a mistyped key
    is reported as a configuration problem and never as tampered evidence.
    """

    def __init__(self, policy: VerificationPolicy | None = None) -> None:
        self.policy = policy or VerificationPolicy()
        self._pinned = tuple(
            _pinned_verifier(k, f"trusted key #{i + 1}")
            for i, k in enumerate(self.policy.trusted_log_keys)
        )
        for i, der in enumerate(self.policy.trusted_tsa_roots):
            try:
                x509.load_der_x509_certificate(der)
            except (ValueError, TypeError) as exc:
                raise PolicyError(f"trusted TSA root #{i + 1} is not a DER certificate") from exc
        if self.policy.origin is not None:
            try:
                _label(self.policy.origin, "the required origin")
            except MalformedInput as exc:
                raise PolicyError(exc.message) from exc

    def missing_pins(self) -> list[str]:
        """The trust anchors this policy leaves to the evidence (PIN_LOG_KEY, PIN_TSA_ROOT)."""
        missing = [] if self._pinned else [PIN_LOG_KEY]
        return missing + ([] if self.policy.trusted_tsa_roots else [PIN_TSA_ROOT])

    def log_verifier(self, embedded_vkey: str, report: Report) -> NoteVerifier:
        """The checkpoint key to trust: a pinned one, or the evidence's own (with a warning)."""
        try:
            embedded = NoteVerifier.from_vkey(embedded_vkey)
        except VerificationError as exc:
            raise MalformedInput(f"the evidence's log key is unusable: {exc.message}") from exc
        except ValueError as exc:
            raise MalformedInput(f"the evidence's log key is unusable: {exc}") from exc
        if not self._pinned:
            report.warn(
                "log key not pinned: trusting the key carried by the evidence "
                "(pass --trusted-key to pin the vault's published key)"
            )
            return embedded
        if embedded in self._pinned:
            return embedded
        trusted = ", ".join(key_label(v) for v in self._pinned)
        raise KeyMismatch(
            f"the evidence is signed with key {key_label(embedded)}, "
            f"not a trusted vault key ({trusted})"
        )

    def tsa_roots(self, chain: Sequence[bytes], report: Report) -> Sequence[bytes]:
        if self.policy.trusted_tsa_roots:
            return self.policy.trusted_tsa_roots
        if not chain:
            raise TimestampChainError(
                "the evidence carries no TSA certificates and no TSA root is pinned "
                "(--trusted-tsa-ca)"
            )
        report.warn(
            "TSA root not pinned: trusting the root carried by the evidence (--trusted-tsa-ca)"
        )
        return chain[-1:]

    def check_checkpoint(
        self, note: bytes, verifier: NoteVerifier, origin: str | None
    ) -> Checkpoint:
        """Verify the signed note; its origin must be the pinned one and the one claimed."""
        checkpoint = verify_checkpoint_note(note, verifier, origin=self.policy.origin)
        if origin is not None and checkpoint.origin != origin:
            raise CheckpointOriginMismatch(
                f"the evidence claims log {origin!r} but its checkpoint is for "
                f"{checkpoint.origin!r}"
            )
        return checkpoint

    def check_inclusion(
        self, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], cp: Checkpoint
    ) -> str:
        if cp.size != tree_size:
            raise TreeSizeMismatch(
                f"the proof is for a tree of {tree_size} leaves, the checkpoint has {cp.size}"
            )
        verify_inclusion(leaf_hash, index, cp.size, proof, cp.root)
        return f"leaf {index} is in the tree of {cp.size} ({len(proof)} hashes)"

    def check_timestamps(
        self,
        report: Report,
        checkpoint: Checkpoint,
        stamps: Sequence[TimestampEvidence],
        pending: int,
        label: str = "timestamp",
    ) -> list[TimestampInfo]:
        digest = hashlib.sha256(checkpoint.body()).digest()
        infos: list[TimestampInfo] = []
        if not stamps:

            def _none() -> str:
                if self.policy.require_timestamp:
                    why = f" ({pending} still pending at the vault)" if pending else ""
                    raise TimestampError(f"checkpoint {checkpoint.size} has no RFC 3161 token{why}")
                return "no token (not required by policy)"

            report.run(label, _none)
            return infos
        if pending:
            report.warn(f"{pending} more token(s) for checkpoint {checkpoint.size} still pending")
        for ev in stamps:

            def _one(ev: TimestampEvidence = ev) -> str:
                info = verify_timestamp(
                    ev.token,
                    digest,
                    roots=self.tsa_roots(ev.chain, report),
                    intermediates=ev.chain,
                )
                infos.append(info)
                return f"{info.gen_time.isoformat()} by {info.tsa_name}"

            report.run(f"{label} ({ev.tsa})", _one)
        return infos

    def check_event_time(
        self,
        report: Report,
        event: Event,
        index: int,
        infos: Sequence[TimestampInfo],
        pending: int,
    ) -> None:
        """`occurred_at` <= `at` <= genTime of the tightest verified token (+ accuracy)."""

        def _time() -> str:
            with about(f"event {index}"):
                return check_event_time(event, tightest_bound(infos))

        report.run("event time", _time)
        if not infos:
            why = f"{pending} token(s) still pending at the vault" if pending else "no token"
            report.warn(f"event {index}: its time is unconfirmed ({why})")

    def verify_receipt(
        self, data: bytes | str | dict[str, Any], *, artifact: Path | None = None
    ) -> Report:
        """Run every check on one receipt. Never raises for anything the evidence holds."""
        report = Report(subject="receipt", unpinned=self.missing_pins())

        def _parse() -> tuple[ParsedReceipt, str]:
            r = parse_receipt(data)
            report.subject = f"event {r.leaf_index} ({r.event.type})"
            return r, f"{r.event.type} event at index {r.leaf_index} of {r.origin}"

        r = report.step("receipt format", _parse)
        if r is None:
            return report
        if r.unknown_fields:
            report.warn(f"receipt fields not covered by any check: {', '.join(r.unknown_fields)}")

        def _leaf() -> str:
            if r.event.leaf_hash != r.leaf_hash:
                raise LeafHashMismatch(
                    f"the event hashes to {r.event.leaf_hash.hex()}, "
                    f"the receipt says {r.leaf_hash.hex()}"
                )
            return r.leaf_hash.hex()

        if not report.run("event hash", _leaf):
            return report

        def _key() -> tuple[NoteVerifier, str]:
            v = self.log_verifier(r.log_key, report)
            return v, f"{key_label(v)} ({'pinned' if self._pinned else 'NOT pinned'})"

        key = report.step("log key", _key)
        if key is None:
            return report

        def _checkpoint() -> tuple[Checkpoint, str]:
            c = self.check_checkpoint(r.checkpoint_note, key, r.origin)
            return c, f"{c.origin} size {c.size} signed by {key_label(key)}"

        cp = report.step("checkpoint signature", _checkpoint)
        if cp is None:
            return report

        def _inclusion() -> str:
            return self.check_inclusion(
                r.leaf_hash, r.leaf_index, r.tree_size, r.inclusion_proof, cp
            )

        if not report.run("inclusion proof", _inclusion):
            return report
        before = len(report.checks)
        infos = self.check_timestamps(report, cp, r.timestamps, r.timestamps_pending)
        if all(c.ok for c in report.checks[before:]):
            self.check_event_time(report, r.event, r.leaf_index, infos, r.timestamps_pending)
        if r.event.body.get("collector_signature") is not None:
            report.run(
                "collector signature",
                lambda: check_ingest_signature(r.event.case, r.event.body) or "",
            )
        if artifact is not None:
            report.run("artifact bytes", lambda: verify_artifact_file(artifact, r.event.body))
        return report


@contextmanager
def about(subject: str) -> Iterator[None]:
    """Name the item a failure is about, unless a deeper check already did."""
    try:
        yield
    except VerificationError as exc:
        if exc.subject is None:
            exc.subject = subject
        raise


def key_label(v: NoteVerifier) -> str:
    """`name+keyID`: how C2SP tools name a key without its public material."""
    return f"{v.name}+{v.key_id.hex()}"
