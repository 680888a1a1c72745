"""Server-side verification: an artifact's checklist, and "does the vault hold this?".

Both run the same `verify/` code an auditor runs offline, against the vault's own keys.
They show the state of the evidence at a glance; they are no substitute for an
independent check with `locard verify` on a bundle, and the pages and docs say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from app.artifacts.models import Artifact
from app.artifacts.service import find_by_sha256, get_artifact, record_access
from app.auth.models import Principal
from app.vault import Vault
from custody.ledger import Receipt, SealedEvent, UnknownEntry
from storage.errors import StorageError
from verify.artifacts import compare_hashes, hash_chunks
from verify.errors import VerificationError
from verify.event_types import EventType
from verify.events import chain_key, decode_event
from verify.merkle import leaf_hash
from verify.policy import VerificationPolicy
from verify.verifier import Verifier

CheckState = Literal["pass", "fail", "info"]


@dataclass(frozen=True)
class CheckRow:
    name: str
    state: CheckState
    detail: str


@dataclass
class Checklist:
    rows: list[CheckRow] = field(default_factory=list)
    #: when the vault ran these checks (pages run them on every view)
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: the stored bytes were re-read and re-hashed by this check
    bytes_rehashed: bool = False
    #: the last time the bytes were read in full, and so re-hashed (a download or a re-hash)
    bytes_last_read: datetime | None = None

    @property
    def ok(self) -> bool:
        return any(r.state == "pass" for r in self.rows) and all(
            r.state != "fail" for r in self.rows
        )

    @property
    def label(self) -> str:
        return "verified" if self.ok else "FAILED"

    @property
    def scope(self) -> str:
        """What "verified" covered, in words: a pass on the chain is not a pass on the bytes."""
        if not self.ok:
            failed = [r.name for r in self.rows if r.state == "fail"]
            return "failed: " + ", ".join(failed)
        if self.bytes_rehashed:
            return "stored bytes re-hashed; custody chain, signed receipt and size checked"
        return "custody chain, signed receipt and stored size checked (bytes not re-read)"

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.rows.append(CheckRow(name, "pass" if ok else "fail", detail))

    def info(self, name: str, detail: str) -> None:
        self.rows.append(CheckRow(name, "info", detail))


def _verifier(vault: Vault, require_timestamp: bool) -> Verifier:
    roots = tuple(r for tsa in vault.authorities for r in tsa.trust_roots())
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(vault.keyring.original_key,),
            log_key_history=vault.keyring.history,
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


def verify_artifact(
    vault: Vault, art: Artifact, chain: list[SealedEvent], *, content: bool = False
) -> Checklist:
    """The checklist of one artifact. `content` re-reads and re-hashes the stored bytes
    (the whole object: seconds per GiB); without it, only their size is checked."""
    out = Checklist(bytes_rehashed=content, bytes_last_read=_last_full_read(chain))
    if not chain or art.ingest_index is None or chain[0].index != art.ingest_index:
        out.add("ingest recorded", False, "the ingest event is missing from the item's chain")
        return out
    ingest = decode_event(chain[0].canonical)
    same = ingest.type == EventType.ingest and all(
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
    if content:
        out.add(*_rehash(vault, art, ingest.body))
    else:
        out.info(
            "content hash",
            "bytes are re-hashed on every full download and by the verification endpoint; "
            "check them offline with locard verify RECEIPT --artifact FILE "
            "--trusted-key vault.vkey --trusted-tsa-ca tsa-root.pem",
        )
    return out


def _last_full_read(chain: list[SealedEvent]) -> datetime | None:
    """A full read (download or server re-hash) hashes every byte and refuses a mismatch."""
    for ev in reversed(chain):
        try:
            decoded = decode_event(ev.canonical)
        except VerificationError:
            continue  # the chain check reports it
        if decoded.type == EventType.access and not decoded.body.get("range"):
            return decoded.at
    return None


#: the checklist row of a re-read of the stored bytes
REHASH_CHECK = "stored bytes"


def _rehash(vault: Vault, art: Artifact, recorded: dict[str, object]) -> tuple[str, bool, str]:
    name = REHASH_CHECK
    try:
        actual = hash_chunks(vault.store.open_range(art.object_key))
        detail = compare_hashes(actual, recorded, art.id)
    except VerificationError as exc:
        return name, False, str(exc)
    except StorageError as exc:
        return name, False, f"not readable from the store: {exc}"
    return name, True, f"re-read and re-hashed: {detail}; SHA-1 and MD5 match the ledger too"


def verify_item(vault: Vault, art: Artifact) -> Checklist:
    return verify_artifact(vault, art, vault.ledger.chain(chain_key(art.case_id, art.id)))


#: what the access event of a server-side verification says, unless the caller says more
VERIFY_REASON = "integrity verification: stored bytes re-hashed by the vault"


def verify_stored(
    vault: Vault, who: Principal, artifact_id: str, reason: str | None
) -> tuple[Artifact, Checklist, Receipt]:
    """Re-read, re-hash and check one artifact. Reading evidence is a custody fact even
    when no byte leaves the vault, so the access is sealed first, as for a download."""
    art = get_artifact(vault.engine, artifact_id, who)
    receipt = record_access(vault, who, art, reason or VERIFY_REASON, None)
    return (
        art,
        verify_artifact(
            vault, art, vault.ledger.chain(chain_key(art.case_id, art.id)), content=True
        ),
        receipt,
    )


@dataclass(frozen=True)
class Holding:
    """One artifact holding the asked-for bytes, with the receipt of its ingest."""

    artifact: Artifact
    receipt: Receipt


def find_holdings(vault: Vault, who: Principal, sha256: str) -> list[Holding]:
    """Where the vault holds bytes with this SHA-256, as far as `who` may see."""
    return [
        Holding(art, vault.ledger.receipt(art.ingest_index))
        for art in find_by_sha256(vault.engine, sha256, who)
        if art.ingest_index is not None
    ]
