"""The verification checklist shown for an artifact.

The page runs the same `verify/` code an auditor runs offline, against the vault's own
keys. It shows the state of the evidence at a glance; it is not a substitute for an
independent check with `locard verify` on a bundle, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.artifacts.models import Artifact
from app.vault import Vault
from custody.ledger import SealedEvent, UnknownEntry
from storage.errors import StorageError
from verify.errors import VerificationError
from verify.events import chain_key, decode_event
from verify.merkle import leaf_hash
from verify.receipt import VerificationPolicy, Verifier

CheckState = Literal["pass", "fail", "info"]


@dataclass(frozen=True)
class CheckRow:
    name: str
    state: CheckState
    detail: str


@dataclass
class Checklist:
    rows: list[CheckRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return any(r.state == "pass" for r in self.rows) and all(
            r.state != "fail" for r in self.rows
        )

    @property
    def label(self) -> str:
        return "verified" if self.ok else "FAILED"

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.rows.append(CheckRow(name, "pass" if ok else "fail", detail))

    def info(self, name: str, detail: str) -> None:
        self.rows.append(CheckRow(name, "info", detail))


def _verifier(vault: Vault, require_timestamp: bool) -> Verifier:
    roots = tuple(r for tsa in vault.authorities for r in tsa.trust_roots())
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(vault.ledger.log_key,),
            trusted_tsa_roots=roots,
            origin=vault.ledger.origin,
            require_timestamp=require_timestamp,
        )
    )


def check_chain(art: Artifact, chain: list[SealedEvent]) -> tuple[bool, str]:
    """Each event hashes to its leaf, names this item, and links to the one before it."""
    prev: bytes | None = None
    for ev in chain:
        try:
            decoded = decode_event(ev.canonical)
        except VerificationError as exc:
            return False, f"event {ev.index} is not a canonical event: {exc}"
        if leaf_hash(ev.canonical) != ev.leaf_hash:
            return False, f"event {ev.index} does not hash to its leaf"
        if decoded.item != art.id or decoded.case != art.case_id:
            return False, f"event {ev.index} is about another item"
        if decoded.prev != prev:
            return False, f"event {ev.index} does not link to the event before it"
        prev = ev.leaf_hash
    return True, f"{len(chain)} event(s), each linked to the previous leaf hash"


def verify_artifact(vault: Vault, art: Artifact, chain: list[SealedEvent]) -> Checklist:
    out = Checklist()
    if not chain or art.ingest_index is None or chain[0].index != art.ingest_index:
        out.add("ingest recorded", False, "the ingest event is missing from the item's chain")
        return out
    ingest = decode_event(chain[0].canonical)
    same = ingest.type == "ingest" and all(
        ingest.body.get(k) == getattr(art, k) for k in ("sha256", "sha1", "md5", "size")
    )
    out.add(
        "ingest recorded",
        same,
        f"leaf {art.ingest_index}: hashes and size match the sealed ingest event"
        if same
        else "the database row differs from the sealed ingest event",
    )
    ok, detail = check_chain(art, chain)
    out.add("custody chain", ok, detail)
    head = chain[-1]
    try:
        receipt = vault.ledger.receipt(head.index).to_json()
    except UnknownEntry as exc:
        out.add("receipt", False, str(exc))
        return out
    pending = bool(receipt.get("timestamps_pending")) and not receipt.get("timestamps")
    report = _verifier(vault, require_timestamp=not pending).verify_receipt(receipt)
    for c in report.checks:
        out.add(f"latest event: {c.name}", c.ok, c.detail)
    if pending:
        out.info("timestamp", "the latest checkpoint's RFC 3161 token is still pending")
    try:
        stored = vault.store.size(art.object_key)
        out.add(
            "stored object",
            stored == art.size,
            f"{stored} bytes in the write-once store"
            if stored == art.size
            else f"store holds {stored} bytes, the ledger says {art.size}",
        )
    except StorageError as exc:
        out.add("stored object", False, f"not readable from the store: {exc}")
    out.info(
        "content hash",
        "bytes are re-hashed on every full download; check them offline with "
        "locard verify --artifact",
    )
    return out


def verify_item(vault: Vault, art: Artifact) -> Checklist:
    return verify_artifact(vault, art, vault.ledger.chain(chain_key(art.case_id, art.id)))
