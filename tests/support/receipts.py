"""Real receipts for verifier tests: sealed by a real ledger, timestamped by the built-in TSA.

One seal of five events, so that the receipts carry non-trivial inclusion proofs:
index 2 is an ingest event with a valid collector manifest signature (its artifact file
is written next to it), index 4 an ingest event whose collector signature is over other
bytes, the rest annotations (index 0 has a float in its body).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from custody.ledger import EventDraft, Ledger
from verify.manifest import manifest_bytes

CASE = "IR-2026-0042"
ARTIFACT_BYTES = b"forensic disk image \x00\x01\x02" * 1000


@dataclass(frozen=True)
class Sealed:
    ingest: dict[str, Any]  # signed ingest event, leaf 2 of 5
    bad_signature: dict[str, Any]  # ingest event whose collector signature does not verify
    annotation: dict[str, Any]  # leaf 0, body holds the float 0.25
    artifact: Path
    log_key: str


def _ingest_body(name: str, data: bytes, signature: bytes, public_key: bytes) -> dict[str, Any]:
    return {
        "artifact": f"art-{name}",
        "file_name": name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "collector_signature": {
            "signature": base64.b64encode(signature).decode(),
            "public_key": base64.b64encode(public_key).decode(),
        },
    }


def seal_receipts(ledger: Ledger, directory: Path) -> Sealed:
    artifact = directory / "disk.img"
    artifact.write_bytes(ARTIFACT_BYTES)
    collector = Ed25519PrivateKey.generate()
    public = collector.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    sha256 = hashlib.sha256(ARTIFACT_BYTES).hexdigest()
    good_sig = collector.sign(manifest_bytes(CASE, artifact.name, sha256))
    other_sig = collector.sign(manifest_bytes(CASE, "other.img", sha256))

    def note(i: int, **extra: Any) -> EventDraft:
        body = {"note": f"note {i}", **extra}
        return EventDraft("annotation", "alice", "collector", body, CASE, "art-notes")

    drafts = [
        note(0, score=0.25),
        note(1),
        EventDraft(
            "ingest",
            "edr-bot",
            "collector",
            _ingest_body(artifact.name, ARTIFACT_BYTES, good_sig, public),
            CASE,
            f"art-{artifact.name}",
        ),
        note(3),
        EventDraft(
            "ingest",
            "edr-bot",
            "collector",
            _ingest_body("forged.img", ARTIFACT_BYTES, other_sig, public),
            CASE,
            "art-forged",
        ),
    ]
    receipts = ledger.seal(drafts)
    assert receipts[0].checkpoint.timestamps, "the built-in TSA must have stamped the seal"
    return Sealed(
        ingest=receipts[2].to_json(),
        bad_signature=receipts[4].to_json(),
        annotation=receipts[0].to_json(),
        artifact=artifact,
        log_key=ledger.log_key,
    )
