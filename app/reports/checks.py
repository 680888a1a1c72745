"""The report's integrity checks: every claim re-derived from the ledger's own bytes, as
`verify/` would offline, and recorded in `verify.report.Report`'s checklist.

The database is only an index; these checks recompute hashes, proofs and signatures so a
damaged or edited index shows up as a failed check in the report instead of as a fact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from app.artifacts.models import Artifact
from app.events import EventType
from app.reports.gather import Entries, Gathered, pem_chain
from app.reports.models import Check
from app.vault import Vault
from custody.ledger import UnknownEntry
from custody.reader import CheckpointRecord
from verify.chains import ChainWalk
from verify.checkpoint import Checkpoint
from verify.cosignature import CosignatureVerifier, verified_cosignatures
from verify.errors import (
    ConsistencyProofError,
    InclusionProofError,
    LeafHashMismatch,
    OrderError,
    SignatureError,
    TimestampError,
    VerificationError,
)
from verify.events import decode_event
from verify.merkle import leaf_hash, verify_consistency, verify_inclusion
from verify.note import NoteVerifier, verify_checkpoint_note
from verify.report import Report
from verify.timestamp import verify_timestamp


class IndexMismatch(VerificationError):
    """The vault's index (artifact rows) states something its ledger events do not."""

    check = "index"


def run_checks(
    vault: Vault,
    g: Gathered,
    e: Entries,
    artifacts: Sequence[Artifact],
    witnesses: Sequence[CosignatureVerifier] = (),
) -> list[Check]:
    report = Report(subject=f"custody report at checkpoint {g.anchor_size}")
    origin = vault.ledger.origin
    anchor = g.anchor
    rows = g.rows
    verifier = NoteVerifier.from_vkey(vault.ledger.log_key)

    def encoding() -> str:
        for r in rows:
            ev = decode_event(r.canonical)
            if leaf_hash(r.canonical) != r.leaf_hash:
                raise LeafHashMismatch(f"event {r.index} does not hash to its stored leaf hash")
            if ev.chain_key != r.chain_key:
                raise OrderError(f"event {r.index} is indexed under the wrong chain")
        return f"{len(rows)} events are RFC 8785 canonical and hash to their leaf hashes"

    def chains() -> str:
        walk = ChainWalk()
        for r in rows:
            walk.follow(r.index, r.chain_key, decode_event(r.canonical).prev, r.leaf_hash)
        return f"{walk.chains} hash chains (case and items) are unbroken from their first event"

    def signature() -> str:
        cp = verify_checkpoint_note(anchor.note.encode(), verifier, origin=origin)
        if cp.size != anchor.size or cp.root != anchor.root:
            raise SignatureError("the signed checkpoint differs from the indexed one")
        return f"checkpoint {anchor.size} of {origin} is signed by the vault's log key"

    def inclusion() -> str:
        for r in rows:
            try:
                proof = vault.ledger.inclusion(r.index, anchor.size)
            except UnknownEntry as exc:
                raise InclusionProofError(str(exc)) from exc
            verify_inclusion(r.leaf_hash, r.index, anchor.size, proof, anchor.root)
        return f"all {len(rows)} events are in the tree of size {anchor.size}"

    def consistency() -> str:
        earlier = sorted(g.sealed_in - {anchor.size})
        for size in earlier:
            cp = g.checkpoints[size]
            signed = verify_checkpoint_note(cp.note.encode(), verifier, origin=origin)
            if signed.size != size or signed.root != cp.root:
                raise SignatureError(f"checkpoint {size}: signed note differs from the index")
            try:
                proof = vault.ledger.consistency(size, anchor.size)
            except UnknownEntry as exc:
                raise ConsistencyProofError(str(exc)) from exc
            verify_consistency(size, anchor.size, proof, cp.root, anchor.root)
        return (
            f"{len(earlier)} earlier checkpoints that first covered these events are signed "
            f"and are prefixes of checkpoint {anchor.size}"
        )

    roots = {a.name: tuple(a.trust_roots()) for a in vault.authorities}

    def tokens(cps: Sequence[CheckpointRecord]) -> str:
        verified = 0
        unpinned: set[str] = set()
        for cp in cps:
            digest = hashlib.sha256(Checkpoint(origin, cp.size, cp.root).body()).digest()
            for t in cp.tokens:
                chain = pem_chain(t.chain_pem)
                pinned = roots.get(t.tsa)
                if pinned is None:
                    unpinned.add(t.tsa)
                info = verify_timestamp(
                    t.tsr_der, digest, roots=pinned or chain[-1:], intermediates=chain
                )
                if info.gen_time != t.gen_time:
                    raise TimestampError(
                        f"checkpoint {cp.size}: {t.tsa} genTime differs from index"
                    )
                verified += 1
        note = (
            f" (no longer configured, checked against the stored root: {sorted(unpinned)})"
            if unpinned
            else ""
        )
        noun = "token" if verified == 1 else "tokens"
        return f"{verified} RFC 3161 {noun} verified over their checkpoint digests{note}"

    def anchor_time() -> str:
        if not anchor.tokens:
            raise TimestampError(
                f"checkpoint {anchor.size} has no timestamp yet "
                f"({anchor.tokens_pending} pending at the TSA)"
            )
        return tokens([anchor])

    def index() -> str:
        for art in artifacts:
            ingest = next(
                (x for x in e.by_item.get(art.id, []) if x.type == EventType.ingest), None
            )
            if ingest is None or ingest.index != art.ingest_index:
                raise IndexMismatch(f"{art.id}: its ingest event is missing from the ledger")
            for field in ("sha256", "sha1", "md5", "size", "file_name"):
                if ingest.body.get(field) != getattr(art, field):
                    raise IndexMismatch(f"{art.id}: {field} differs from its ingest event")
        return f"{len(artifacts)} artifacts' names, sizes and hashes match their ingest events"

    report.run("event encoding", encoding)
    report.run("hash chains", chains)
    report.run("checkpoint signature", signature)
    report.run("inclusion proofs", inclusion)
    report.run("checkpoint consistency", consistency)
    report.run("anchor timestamp", anchor_time)
    report.run("fact timestamps", lambda: tokens([g.checkpoints[s] for s in sorted(g.sealed_in)]))
    report.run("artifact records", index)

    def cosigned() -> str:
        note = anchor.note.encode() + b"".join(g.cosignatures)
        found = verified_cosignatures(note, witnesses)
        names = ", ".join(sorted(c.name for c in found)) or "none"
        return (
            f"checkpoint {anchor.size} is cosigned by {len(found)} of {len(witnesses)} "
            f"configured witnesses ({names})"
        )

    if witnesses:
        # Only where witnesses are configured: a vault without them has nothing to check.
        report.run("witness cosignatures", cosigned)
    return [Check(name=c.name, ok=c.ok, detail=c.detail) for c in report.checks]
