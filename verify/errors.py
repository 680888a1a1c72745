"""Typed verification failures.

Every failure the verifier can report is its own class so that callers (the CLI,
the API, tests) can tell *what* failed without parsing messages. `check` is a
short stable identifier used in machine-readable output.
"""

from __future__ import annotations


class VerificationError(Exception):
    """A check failed. Subclasses name which one."""

    check = "verification"

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: what was being checked when it failed (an event index, an artifact name, ...)
        self.subject = subject

    def __str__(self) -> str:
        if self.subject:
            return f"{self.subject}: {self.message}"
        return self.message


class MalformedInput(VerificationError):
    """The receipt, bundle, proof or note cannot be parsed at all."""

    check = "format"


class CanonicalEncodingError(VerificationError):
    """An event is not valid RFC 8785 canonical JSON of the expected shape."""

    check = "event-encoding"


class LeafHashMismatch(VerificationError):
    """The event bytes do not hash to the stated leaf hash."""

    check = "leaf-hash"


class InclusionProofError(VerificationError):
    """The inclusion proof does not lead from the leaf to the checkpoint root."""

    check = "inclusion"


class ConsistencyProofError(VerificationError):
    """Two tree heads are not consistent: history was rewritten or the proof is bad."""

    check = "consistency"


class CheckpointFormatError(VerificationError):
    """The checkpoint or signed note is not well formed."""

    check = "checkpoint-format"


class CheckpointOriginMismatch(VerificationError):
    """The checkpoint belongs to another log."""

    check = "checkpoint-origin"


class SignatureError(VerificationError):
    """No valid signature by a trusted key on the checkpoint (or a manifest)."""

    check = "signature"


class KeyMismatch(VerificationError):
    """A public key in the evidence differs from the one the verifier trusts."""

    check = "key"


class TimestampError(VerificationError):
    """An RFC 3161 token failed: status, signature, chain, EKU, nonce, policy or imprint."""

    check = "timestamp"


class TimestampImprintMismatch(TimestampError):
    """The token timestamps some other data."""

    check = "timestamp-imprint"


class TimestampChainError(TimestampError):
    """The TSA certificate does not chain to a trusted root, or lacks the timeStamping EKU."""

    check = "timestamp-chain"


class ArtifactHashMismatch(VerificationError):
    """Artifact bytes do not match the hashes recorded in the ingest event."""

    check = "artifact-hash"


class ChainBreak(VerificationError):
    """An event's `prev` does not point to the previous event about the same item."""

    check = "item-chain"


class OrderError(VerificationError):
    """Events are missing, duplicated or out of ledger order."""

    check = "order"


class TimestampFormatError(TimestampError, MalformedInput):
    """A time-stamp response or token cannot be parsed, or is not shaped as RFC 3161 requires.

    It is both a timestamp failure and malformed input, so callers catching either see it.
    """

    check = "timestamp-format"


class TimestampRejected(TimestampError):
    """The TSA answered with a status other than granted; no token was issued."""

    check = "timestamp-status"

    def __init__(
        self,
        message: str,
        *,
        subject: str | None = None,
        status: str = "",
        fail_info: tuple[str, ...] = (),
        status_text: str = "",
    ) -> None:
        super().__init__(message, subject=subject)
        self.status = status
        self.fail_info = fail_info
        self.status_text = status_text


class TimestampSignatureError(TimestampError):
    """The token's CMS signature or its signed message digest does not verify."""

    check = "timestamp-signature"


class TimestampSignerMismatch(TimestampError):
    """The ESSCertID(v2) or TSA name in the token does not name the certificate that signed it."""

    check = "timestamp-signer"


class TimestampNonceMismatch(TimestampError):
    """The token does not echo the nonce of our request: a replayed or foreign response."""

    check = "timestamp-nonce"


class TimestampPolicyMismatch(TimestampError):
    """The token was issued under another TSA policy than the one required."""

    check = "timestamp-policy"


class TimestampExpired(TimestampError):
    """At the policy's validation time the token's TSA certificate (or its last renewal's)
    has expired, and no renewal made before that expiry carries it further."""

    check = "timestamp-expired"


class TimestampRenewalError(TimestampError):
    """A token's renewal (evidence record) does not cover it, does not verify, or was made
    after the token it renews had expired."""

    check = "timestamp-renewal"


class TreeSizeMismatch(InclusionProofError):
    """The proof claims a tree size other than the signed checkpoint's."""

    check = "tree-size"


class PolicyError(VerificationError):
    """The verifier's own trust settings (pinned keys, TSA roots) cannot be used.

    Raised before any evidence is looked at: a typo in a pin must never read as tampering.
    """

    check = "policy"


class ArtifactUnreadable(MalformedInput):
    """The artifact file given for comparison is missing or cannot be read."""

    check = "artifact-read"


class InternalError(VerificationError):
    """The verifier failed in a way it does not classify; the evidence counts as unverified."""

    check = "internal"


class BundleMemberError(MalformedInput):
    """A bundle member is missing, unlisted, duplicated or differs from the manifest's digest."""

    check = "bundle-member"


class MemberTooLarge(BundleMemberError):
    """A bundle member is larger than any genuine member of its kind: refused unread."""

    check = "member-size"


class MissingEvent(OrderError):
    """A chain refers to an event the bundle lacks, or ends before the head the export recorded."""

    check = "missing-event"


class UnexpectedEvent(OrderError):
    """The bundle holds an event the export did not cover (another case, past a recorded head)."""

    check = "extra-event"


class EventsReordered(OrderError):
    """An event sits at another position than the one the ledger gave it."""

    check = "event-order"


class EventTimeError(VerificationError):
    """An event's times contradict each other or the token that dates its checkpoint."""

    check = "event-time"


class EventAfterTimestamp(EventTimeError):
    """The event says it was sealed after the RFC 3161 genTime of its checkpoint's token.

    The token proves the checkpoint (and so the event) existed at genTime: a later `at` is a
    vault clock that was wrong or moved, or a forged event.
    """

    check = "event-after-timestamp"


class OccurredAtError(EventTimeError):
    """The body's `occurred_at` is not an ISO 8601 time with a zone, or is later than `at`."""

    check = "occurred-at"


class QuorumNotMet(VerificationError):
    """The checkpoint lacks the witness cosignatures the witness policy requires."""

    check = "witness-quorum"

    def __init__(
        self, message: str, *, missing: tuple[str, ...] = (), subject: str | None = None
    ) -> None:
        super().__init__(message, subject=subject)
        #: witnesses (policy names) whose cosignature is absent
        self.missing = missing
