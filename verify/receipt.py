"""Offline verification of a Locard receipt: no database, no server, no network.

The chain of checks is event -> leaf hash -> inclusion proof -> signed checkpoint ->
RFC 3161 token(s) -> (optionally) the artifact bytes. A later check only runs when
the ones it builds on passed, so the first failure is the one that matters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.artifacts import verify_artifact_file
from verify.checkpoint import Checkpoint
from verify.errors import (
    KeyMismatch,
    LeafHashMismatch,
    MalformedInput,
    TimestampError,
    VerificationError,
)
from verify.events import Event, event_from_json
from verify.merkle import verify_inclusion
from verify.note import NoteVerifier, verify_checkpoint_note
from verify.timestamp import TimestampInfo, verify_timestamp

RECEIPT_FORMAT = "locard-receipt/1"


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


@dataclass
class Report:
    subject: str
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if not c.ok), None)

    def run(self, name: str, fn: Callable[[], str]) -> bool:
        """Record one check; a typed failure becomes a failed check, anything else propagates."""
        try:
            detail = fn()
        except VerificationError as exc:
            self.checks.append(Check(name, False, str(exc), exc))
            return False
        self.checks.append(Check(name, True, detail))
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "checks": [
                {
                    "name": c.name,
                    "ok": c.ok,
                    "detail": c.detail,
                    "error": type(c.error).__name__ if c.error else None,
                    "check": c.error.check if c.error else None,
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


def _field(doc: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in doc:
        raise MalformedInput(f"receipt lacks '{name}'")
    value = doc[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedInput(f"receipt field '{name}' has the wrong type")
    return value


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedInput(f"{what} is not a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise MalformedInput(f"{what} is not valid hex") from exc


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedInput(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput(f"{what} is not valid base64") from exc


def parse_receipt(data: bytes | str | dict[str, Any]) -> ParsedReceipt:
    """Decode a receipt without trusting anything in it yet."""
    if isinstance(data, dict):
        doc: Any = data
    else:
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedInput(f"receipt is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise MalformedInput("receipt is not a JSON object")
    if doc.get("format") != RECEIPT_FORMAT:
        raise MalformedInput(f"not a {RECEIPT_FORMAT} document (format={doc.get('format')!r})")
    stamps = []
    for i, t in enumerate(_field(doc, "timestamps", list)):
        if not isinstance(t, dict) or not isinstance(t.get("chain"), list):
            raise MalformedInput(f"timestamp {i} is malformed")
        stamps.append(
            TimestampEvidence(
                tsa=str(t.get("tsa", f"tsa-{i}")),
                token=_b64(t.get("token"), f"timestamp {i} token"),
                chain=tuple(_b64(c, f"timestamp {i} certificate") for c in t["chain"]),
            )
        )
    index = _field(doc, "leaf_index", int)
    size = _field(doc, "tree_size", int)
    if index < 0 or size < 1:
        raise MalformedInput("leaf_index must be >= 0 and tree_size >= 1")
    return ParsedReceipt(
        origin=_field(doc, "origin", str),
        event=event_from_json(_field(doc, "event", dict)),
        leaf_index=index,
        leaf_hash=_hex(_field(doc, "leaf_hash", str), "leaf_hash"),
        tree_size=size,
        inclusion_proof=tuple(
            _hex(h, "inclusion proof hash") for h in _field(doc, "inclusion_proof", list)
        ),
        checkpoint_note=_field(doc, "checkpoint", str).encode(),
        timestamps=tuple(stamps),
        timestamps_pending=int(doc.get("timestamps_pending", 0) or 0),
        log_key=_field(doc, "log_key", str),
    )


class Verifier:
    """Checks receipts (and, via verify.bundle, bundles) against a policy."""

    def __init__(self, policy: VerificationPolicy | None = None) -> None:
        self.policy = policy or VerificationPolicy()

    def log_verifier(self, embedded_vkey: str, report: Report) -> NoteVerifier:
        """The checkpoint key to trust: a pinned one, or the evidence's own (with a warning)."""
        try:
            embedded = NoteVerifier.from_vkey(embedded_vkey)
        except VerificationError:
            raise
        except Exception as exc:
            raise MalformedInput(f"log key is not a valid verifier key: {exc}") from exc
        if not self.policy.trusted_log_keys:
            report.warnings.append(
                "log key not pinned: trusting the key carried by the evidence "
                "(pass --trusted-key to pin the vault's published key)"
            )
            return embedded
        for pinned in self.policy.trusted_log_keys:
            if NoteVerifier.from_vkey(pinned).vkey() == embedded.vkey():
                return embedded
        raise KeyMismatch("the evidence is signed with a key that is not the trusted vault key")

    def tsa_roots(self, chain: Sequence[bytes], report: Report) -> Sequence[bytes]:
        if self.policy.trusted_tsa_roots:
            return self.policy.trusted_tsa_roots
        msg = "TSA root not pinned: trusting the root carried by the evidence (--trusted-tsa-ca)"
        if msg not in report.warnings:
            report.warnings.append(msg)
        return chain[-1:]

    def check_checkpoint(
        self, note: bytes, verifier: NoteVerifier, origin: str | None
    ) -> Checkpoint:
        return verify_checkpoint_note(note, verifier, origin=self.policy.origin or origin)

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
        for ev in stamps:

            def _one(ev: TimestampEvidence = ev) -> str:
                info = verify_timestamp(
                    ev.token,
                    digest,
                    roots=self.tsa_roots(ev.chain, report),
                    intermediates=ev.chain,
                )
                infos.append(info)
                return f"{ev.tsa}: {info.gen_time.isoformat()} by {info.tsa_name}"

            report.run(f"{label} ({ev.tsa})", _one)
        return infos

    def verify_receipt(
        self, data: bytes | str | dict[str, Any], *, artifact: Path | None = None
    ) -> Report:
        report = Report(subject="receipt")
        holder: dict[str, Any] = {}

        def _parse() -> str:
            holder["r"] = parse_receipt(data)
            r: ParsedReceipt = holder["r"]
            report.subject = f"event {r.leaf_index} ({r.event.type})"
            return f"{r.event.type} event at index {r.leaf_index} of {r.origin}"

        if not report.run("receipt format", _parse):
            return report
        r: ParsedReceipt = holder["r"]

        def _leaf() -> str:
            if r.event.leaf_hash != r.leaf_hash:
                raise LeafHashMismatch("event bytes do not hash to the receipt's leaf hash")
            return r.leaf_hash.hex()

        def _key() -> str:
            holder["v"] = self.log_verifier(r.log_key, report)
            return r.log_key.split("+")[0]

        def _checkpoint() -> str:
            holder["cp"] = self.check_checkpoint(r.checkpoint_note, holder["v"], r.origin)
            cp: Checkpoint = holder["cp"]
            return f"{cp.origin} size {cp.size} signed by {holder['v'].name}"

        def _inclusion() -> str:
            cp: Checkpoint = holder["cp"]
            if cp.size != r.tree_size:
                from verify.errors import InclusionProofError

                raise InclusionProofError(
                    f"proof is for a tree of {r.tree_size} leaves, checkpoint has {cp.size}"
                )
            verify_inclusion(r.leaf_hash, r.leaf_index, cp.size, r.inclusion_proof, cp.root)
            return f"leaf {r.leaf_index} is in the tree of {cp.size} ({len(r.inclusion_proof)} hashes)"

        ok = (
            report.run("event hash", _leaf)
            and report.run("log key", _key)
            and report.run("checkpoint signature", _checkpoint)
            and report.run("inclusion proof", _inclusion)
        )
        if ok:
            self.check_timestamps(report, holder["cp"], r.timestamps, r.timestamps_pending)
        if artifact is not None and ok:
            report.run("artifact bytes", lambda: verify_artifact_file(artifact, r.event.body))
        return report
