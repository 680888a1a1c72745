"""The verifier: checks receipts (and, through verify.bundle, bundles) against a policy.

The chain of checks is event -> leaf hash -> inclusion proof -> signed checkpoint ->
RFC 3161 token(s) -> event time -> collector signature -> (optionally) the artifact bytes. A
later check only runs when the ones it builds on passed, so the first failure is the one that
matters. Every failure is a typed `VerificationError` recorded as a failed `Check`; nothing
a receipt contains can make `verify_receipt` raise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509

from verify.artifacts import verify_artifact_file
from verify.checkpoint import Checkpoint
from verify.errors import (
    CheckpointOriginMismatch,
    KeyMismatch,
    LeafHashMismatch,
    MalformedInput,
    PolicyError,
    TimestampChainError,
    TimestampError,
    TreeSizeMismatch,
    VerificationError,
)
from verify.events import Event
from verify.keyhistory import KeyEra, claimed_size, key_eras
from verify.manifest import check_ingest_signature
from verify.merkle import verify_inclusion
from verify.note import NoteVerifier, verify_checkpoint_note
from verify.policy import VerificationPolicy, pinned_verifier
from verify.receipt import ParsedReceipt, TimestampEvidence, parse_receipt
from verify.renewal import verify_at
from verify.report import PIN_LOG_KEY, PIN_TSA_ROOT, Report
from verify.strict_json import label
from verify.times import check_event_time, tightest_bound
from verify.timestamp import TimestampInfo, tsa_certificate_chain, verify_timestamp


class Verifier:
    """Checks receipts (and, via verify.bundle, bundles) against a policy.

    Raises PolicyError at construction when a pin is unusable, so that a mistyped key
    is reported as a configuration problem and never as tampered evidence.
    """

    def __init__(self, policy: VerificationPolicy | None = None) -> None:
        self.policy = policy or VerificationPolicy()
        self._pinned = tuple(
            pinned_verifier(k, f"trusted key #{i + 1}")
            for i, k in enumerate(self.policy.trusted_log_keys)
        )
        for i, der in enumerate(self.policy.trusted_tsa_roots):
            try:
                x509.load_der_x509_certificate(der)
            except (ValueError, TypeError) as exc:
                raise PolicyError(f"trusted TSA root #{i + 1} is not a DER certificate") from exc
        if self.policy.origin is not None:
            try:
                label(self.policy.origin, "the required origin")
            except MalformedInput as exc:
                raise PolicyError(exc.message) from exc
        self._eras = self._key_eras()

    def _key_eras(self) -> tuple[KeyEra, ...]:
        """The pinned key's successors, each trusted from its hand-over on (none: no history)."""
        history = self.policy.log_key_history
        if not history:
            return ()
        if not self._pinned:
            raise PolicyError("a key history needs the original log key pinned (--trusted-key)")
        failure: VerificationError | None = None
        for pinned in self._pinned:
            try:
                return key_eras(pinned, history, self.policy.origin)
            except VerificationError as exc:
                failure = exc
        assert failure is not None
        raise PolicyError(f"the log key history does not verify: {failure.message}")

    @property
    def pinned(self) -> tuple[NoteVerifier, ...]:
        """The log keys the policy pins."""
        return self._pinned

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
        era = next((e for e in self._eras if e.verifier == embedded), None)
        if era is not None:
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
        """Verify the signed note; its origin must be the pinned one and the one claimed.

        With a key history, the note must be signed by the key trusted for its size, which
        may be a predecessor or successor of `verifier` (a bundle spans a rotation).
        """
        keys: list[NoteVerifier] = [verifier]
        if any(e.verifier == verifier for e in self._eras):
            size = claimed_size(note)
            keys = [e.verifier for e in self._eras if size is not None and e.covers(size)]
            if not keys:
                raise KeyMismatch(
                    f"no key in the log key history is trusted for a checkpoint of size {size}"
                )
        checkpoint = verify_checkpoint_note(note, keys, origin=self.policy.origin)
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

    def check_witnesses(self, report: Report, note: bytes, cp: Checkpoint) -> None:
        """The witness policy's quorum on the checkpoint (when a policy is given)."""
        policy = self.policy.witness_policy
        if policy is None:
            return

        def _quorum() -> str:
            verdict, _ = policy.check(note, cp.size)
            return verdict

        report.run("witness quorum", _quorum)
        if cp.size < policy.since:
            report.warn(f"checkpoint {cp.size} is unwitnessed before size {policy.since}")

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
                roots = self.tsa_roots(ev.chain, report)
                info = verify_timestamp(ev.token, digest, roots=roots, intermediates=ev.chain)
                at = self.policy.validation_time
                if at is not None:
                    chain = tsa_certificate_chain(ev.token, roots=roots, intermediates=ev.chain)
                    still = verify_at(
                        ev.token, info, chain, at, ev.renewal, lambda c: self.tsa_roots(c, report)
                    )
                    infos.append(info)
                    return f"{info.gen_time.isoformat()} by {info.tsa_name}; {still}"
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
        self.check_witnesses(report, r.checkpoint_note, cp)
        before = len(report.checks)
        infos = self.check_timestamps(report, cp, r.timestamps, r.timestamps_pending)
        # A token that failed bounds nothing; no token at all leaves the time unconfirmed.
        if not r.timestamps or all(c.ok for c in report.checks[before:]):
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
