"""Server-side audit: the write-once archive, the database index and the evidence bytes,
each checked against the others and against the trusted keys.

The archive is checked first and on its own terms (signatures, tokens, roots,
per-item chains); the database is then compared with it row by row, so that any
edit, deletion, insertion, reordering or rollback of the index is named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from custody.archive import ArchivedSeal, iter_seals, read_timestamps
from custody.integrity import database_integrity
from custody.models import CheckpointRow, LedgerEvent, TimestampRow, TreeNode
from storage.base import ObjectStore, VersionedStore
from storage.errors import StorageError
from storage.keys import EVIDENCE_PREFIX, PROTECTED_PREFIXES
from verify.artifacts import compare_hashes, hash_chunks
from verify.chains import ChainWalk
from verify.errors import (
    ArtifactUnreadable,
    InclusionProofError,
    KeyMismatch,
    LeafHashMismatch,
    MalformedInput,
    OrderError,
    VerificationError,
)
from verify.event_types import EventType
from verify.events import Event, decode_event
from verify.keyhistory import Handover
from verify.merkle import RootAccumulator, leaf_hash, node_hash
from verify.policy import VerificationPolicy
from verify.receipt import TimestampEvidence
from verify.report import Report
from verify.times import check_event_time, tightest_bound
from verify.verifier import Verifier

_EVENTS = LedgerEvent.__table__  # type: ignore[attr-defined]
_NODES = TreeNode.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_TIMESTAMPS = TimestampRow.__table__  # type: ignore[attr-defined]

Progress = Callable[[str, int, int], None]


class IndexMismatch(VerificationError):
    """The database index disagrees with the write-once archive."""

    check = "index"


class StoreTampering(VerificationError):
    """The object store holds writes the vault never made: a version with other content
    written over an archived object or evidence, or a delete marker hiding one."""

    check = "store"


@dataclass
class ArchiveState:
    """What the archive says, collected while verifying it."""

    size: int = 0
    leaf_hashes: list[bytes] = field(default_factory=list)
    canonical: list[bytes] = field(default_factory=list)
    notes: dict[int, bytes] = field(default_factory=dict)
    ingests: list[Event] = field(default_factory=list)
    #: (checkpoint size, TSA name) -> SHA-256 of the archived token
    tokens: dict[tuple[int, str], bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactRecord:
    artifact_id: str
    case_id: str
    object_key: str
    sha256: str
    size: int


def _fail(report: Report, name: str, exc: VerificationError) -> None:
    report.run(name, lambda: _raise(exc))


def _raise(exc: VerificationError) -> str:
    raise exc


def audit_archive(
    store: ObjectStore,
    verifier: Verifier,
    origin: str,
    report: Report,
    progress: Progress | None = None,
) -> ArchiveState:
    """Every seal in the store: contiguous, canonical, chained, signed, timestamped."""
    state = ArchiveState()
    acc = RootAccumulator()
    walk = ChainWalk()
    note_verifier = None
    seals = 0
    unconfirmed = 0
    for seal in _seals(store, report):
        decoded: list[tuple[int, Event]] = []
        seals += 1
        if seal.first != state.size:
            what = "missing" if seal.first > state.size else "overlapping"
            _fail(
                report,
                "archive order",
                OrderError(
                    f"seal {seal.key} starts at {seal.first} but the archive holds {state.size}"
                    f" events: {what} seal",
                    subject=seal.key,
                ),
            )
            return state
        for offset, data in enumerate(seal.events):
            index = seal.first + offset
            try:
                ev = decode_event(data)
            except VerificationError as exc:
                exc.subject = f"event {index}"
                _fail(report, "archived events", exc)
                return state
            lh = leaf_hash(data)
            broken = walk.check(index, ev.chain_key, ev.prev)
            if broken is not None:
                _fail(report, "item chains", broken)
                return state
            walk.record(index, ev.chain_key, lh)
            decoded.append((index, ev))
            acc.append(lh)
            state.leaf_hashes.append(lh)
            state.canonical.append(data)
            if ev.type == EventType.ingest:
                state.ingests.append(ev)
        state.size = seal.size
        if note_verifier is None:
            note_verifier = verifier.log_verifier(_vkey_of(verifier, seal), report)
        try:
            cp = verifier.check_checkpoint(seal.note, note_verifier, origin)
        except VerificationError as exc:
            exc.subject = f"checkpoint {seal.size}"
            _fail(report, "checkpoint signatures", exc)
            return state
        if cp.size != seal.size or cp.root != acc.root():
            _fail(
                report,
                "checkpoint roots",
                InclusionProofError(
                    "signed root differs from the root of the archived events",
                    subject=f"checkpoint {seal.size}",
                ),
            )
            return state
        state.notes[seal.size] = seal.note
        archived = read_timestamps(store, seal.size)
        for t in archived:
            state.tokens[(seal.size, t.tsa)] = hashlib.sha256(t.tsr_der).digest()
        stamps = [TimestampEvidence(t.tsa, t.tsr_der, t.chain_der) for t in archived]
        sub = Report(subject=f"checkpoint {seal.size}")
        infos = verifier.check_timestamps(sub, cp, stamps, 0, label=f"timestamp of {seal.size}")
        report.warnings.extend(w for w in sub.warnings if w not in report.warnings)
        bad = sub.first_failure
        if bad is not None and bad.error is not None:
            bad.error.subject = f"checkpoint {seal.size}"
            _fail(report, "checkpoint timestamps", bad.error)
            return state
        # Each event's `at` within its checkpoint's token (and `occurred_at` not after it):
        # a forged event dated after the token that covers it fails here too, not only in
        # the offline verifier.
        bound = tightest_bound(infos)
        unconfirmed += 0 if bound is not None else len(decoded)
        for index, ev in decoded:
            try:
                check_event_time(ev, bound)
            except VerificationError as exc:
                exc.subject = f"event {index}"
                _fail(report, "event times", exc)
                return state
        if progress:
            progress("archive", state.size, 0)
    report.run(
        "archive",
        lambda: (
            f"{seals} seals, {state.size} events: contiguous, canonical, chained, signed, "
            "timestamped, each event's time within its token"
            + (f" ({unconfirmed} awaiting a token)" if unconfirmed else "")
        ),
    )
    return state


def _vkey_of(verifier: Verifier, seal: ArchivedSeal) -> str:
    pinned = verifier.policy.trusted_log_keys
    if pinned:
        return pinned[0]
    raise MalformedInput("the audit needs the vault's key (it is read from the key directory)")


def _seals(store: ObjectStore, report: Report) -> Iterator[ArchivedSeal]:
    try:
        yield from iter_seals(store)
    except VerificationError as exc:
        _fail(report, "archive format", exc)


def audit_index(engine: Engine, state: ArchiveState, report: Report) -> None:
    """The database must be exactly the archive: same events, nodes, checkpoints, tokens."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_EVENTS.c.leaf_index, _EVENTS.c.canonical, _EVENTS.c.leaf_hash).order_by(
                _EVENTS.c.leaf_index
            )
        )
        seen = 0
        for index, canonical, stored_leaf in rows:
            if index != seen:
                what = "deleted" if index > seen else "duplicated"
                _fail(
                    report,
                    "index events",
                    IndexMismatch(
                        f"event {seen} is {what} in the database", subject=f"event {seen}"
                    ),
                )
                return
            if index >= state.size:
                _fail(
                    report,
                    "index events",
                    IndexMismatch(
                        f"the database holds event {index}, which the archive never sealed "
                        "(forged or inserted)",
                        subject=f"event {index}",
                    ),
                )
                return
            if bytes(canonical) != state.canonical[index]:
                _fail(
                    report,
                    "index events",
                    IndexMismatch(
                        "event row differs from the archive (edited or reordered)",
                        subject=f"event {index}",
                    ),
                )
                return
            if bytes(stored_leaf) != state.leaf_hashes[index]:
                _fail(
                    report,
                    "index events",
                    LeafHashMismatch(
                        "stored leaf hash differs from the event's hash", subject=f"event {index}"
                    ),
                )
                return
            seen += 1
        if seen < state.size:
            _fail(
                report,
                "index events",
                IndexMismatch(
                    f"the database holds {seen} of {state.size} sealed events: truncated or "
                    "rolled back",
                    subject=f"event {seen}",
                ),
            )
            return
    report.run("index events", lambda: f"{seen} event rows equal the archive")
    if _audit_nodes(engine, state.leaf_hashes, report):
        _audit_checkpoints(engine, state, report)


def _audit_nodes(engine: Engine, leaves: Sequence[bytes], report: Report) -> bool:
    """Recompute every complete subtree level by level and compare with the stored nodes."""
    level_hashes = list(leaves)
    level = 0
    with engine.connect() as conn:
        while level_hashes:
            stored = {
                int(i): bytes(h)
                for i, h in conn.execute(
                    select(_NODES.c.index, _NODES.c.hash).where(_NODES.c.level == level)
                )
            }
            for i, h in enumerate(level_hashes):
                if stored.get(i) != h:
                    _fail(
                        report,
                        "index tree",
                        IndexMismatch(
                            "tree node differs from the recomputed tree"
                            if i in stored
                            else "tree node is missing",
                            subject=f"node ({level}, {i})",
                        ),
                    )
                    return False
            extra = set(stored) - set(range(len(level_hashes)))
            if extra:
                i = min(extra)
                _fail(
                    report,
                    "index tree",
                    IndexMismatch(
                        "tree node beyond the archived tree", subject=f"node ({level}, {i})"
                    ),
                )
                return False
            level_hashes = [
                node_hash(level_hashes[j], level_hashes[j + 1])
                for j in range(0, len(level_hashes) - 1, 2)
            ]
            level += 1
    report.run("index tree", lambda: f"{len(leaves)} leaves, {level} levels recomputed")
    return True


def _audit_checkpoints(engine: Engine, state: ArchiveState, report: Report) -> None:
    with engine.connect() as conn:
        rows = {
            int(sz): n for sz, n in conn.execute(select(_CHECKPOINTS.c.size, _CHECKPOINTS.c.note))
        }
        db_tokens = {
            (int(sz), t): bytes(d)
            for sz, t, d in conn.execute(
                select(_TIMESTAMPS.c.checkpoint_size, _TIMESTAMPS.c.tsa, _TIMESTAMPS.c.tsr)
            )
        }
    for size, note in sorted(state.notes.items()):
        if rows.get(size, "").encode() != note:
            what = "missing from" if size not in rows else "replaced in"
            _fail(
                report,
                "index checkpoints",
                IndexMismatch(f"checkpoint is {what} the database", subject=f"checkpoint {size}"),
            )
            return
    for size in sorted(set(rows) - set(state.notes)):
        _fail(
            report,
            "index checkpoints",
            IndexMismatch(
                "the database holds a checkpoint the archive never sealed",
                subject=f"checkpoint {size}",
            ),
        )
        return
    report.run("index checkpoints", lambda: f"{len(rows)} checkpoints equal the archive")
    for key, digest in sorted(state.tokens.items()):
        if key not in db_tokens:
            _fail(
                report,
                "index tokens",
                IndexMismatch(
                    f"token of {key[1]} is missing from the database",
                    subject=f"checkpoint {key[0]}",
                ),
            )
            return
        if hashlib.sha256(db_tokens[key]).digest() != digest:
            _fail(
                report,
                "index tokens",
                IndexMismatch(
                    f"token of {key[1]} was swapped in the database", subject=f"checkpoint {key[0]}"
                ),
            )
            return
    unarchived = sorted(set(db_tokens) - set(state.tokens))
    if unarchived:
        size, tsa = unarchived[0]
        _fail(
            report,
            "index tokens",
            IndexMismatch(
                f"token of {tsa} is in the database but not in the archive",
                subject=f"checkpoint {size}",
            ),
        )
        return
    report.run("index tokens", lambda: f"{len(db_tokens)} tokens equal the archive")


def audit_artifacts(
    store: ObjectStore,
    state: ArchiveState,
    records: Sequence[ArtifactRecord],
    report: Report,
    *,
    content: bool = True,
    progress: Progress | None = None,
) -> None:
    """Artifact rows against their ingest events, and the stored bytes against both."""
    by_id = {r.artifact_id: r for r in records}
    for ev in state.ingests:
        art_id = str(ev.body.get("artifact"))
        rec = by_id.pop(art_id, None)
        if rec is None:
            _fail(
                report,
                "artifacts",
                IndexMismatch("ingested artifact has no database row", subject=art_id),
            )
            return
        if (rec.sha256, rec.size, rec.object_key, rec.case_id) != (
            ev.body.get("sha256"),
            ev.body.get("size"),
            ev.body.get("object_key"),
            ev.case,
        ):
            _fail(
                report,
                "artifacts",
                IndexMismatch("artifact row differs from its ingest event", subject=art_id),
            )
            return
        if content:
            try:
                actual = hash_chunks(store.open_range(rec.object_key))
                compare_hashes(actual, ev.body, art_id)
            except VerificationError as exc:
                _fail(report, "artifact bytes", exc)
                return
            except StorageError as exc:
                # Evidence the store cannot produce is an integrity failure to name,
                # not a crash of the audit.
                _fail(
                    report,
                    "artifact bytes",
                    ArtifactUnreadable(
                        f"stored object {rec.object_key} cannot be read: {exc}", subject=art_id
                    ),
                )
                return
            if progress:
                progress("artifacts", rec.size, 0)
    if by_id:
        art_id = sorted(by_id)[0]
        _fail(
            report,
            "artifacts",
            IndexMismatch("artifact row has no sealed ingest event", subject=art_id),
        )
        return
    report.run(
        "artifacts",
        lambda: (
            f"{len(state.ingests)} artifacts match their ingest events"
            + (" and their stored bytes" if content else "")
        ),
    )


def audit_published_keys(
    published: Mapping[str, str], expected: Mapping[str, str], report: Report
) -> None:
    """What `/v1/keys` serves must be the keys the vault really signs with."""
    for name, value in sorted(expected.items()):
        if published.get(name) != value:
            what = "missing from" if name not in published else "replaced in"
            _fail(
                report,
                "published keys",
                KeyMismatch(f"public key {name!r} is {what} the database", subject=name),
            )
            return
    extra = sorted(set(published) - set(expected))
    if extra:
        _fail(
            report,
            "published keys",
            KeyMismatch(f"the database publishes an unknown key {extra[0]!r}", subject=extra[0]),
        )
        return
    report.run("published keys", lambda: f"{len(expected)} published keys match the key directory")


def audit_database(engine: Engine, report: Report) -> bool:
    """The database's own integrity (SQLite `quick_check`): a damaged file is named here,
    before anything is read from it."""
    return report.run("database integrity", lambda: database_integrity(engine))


def audit_vault(
    engine: Engine,
    store: ObjectStore,
    origin: str,
    log_vkey: str,
    tsa_roots: Sequence[bytes],
    records: Sequence[ArtifactRecord],
    *,
    content: bool = True,
    progress: Progress | None = None,
    published: Mapping[str, str] | None = None,
    expected_keys: Mapping[str, str] | None = None,
    report: Report | None = None,
    log_key_history: tuple[Handover, ...] = (),
) -> Report:
    """`report`, if given, holds checks already made, the database's integrity among them."""
    if report is None:
        report = Report(subject="vault audit")
        audit_database(engine, report)
    if published is not None and expected_keys is not None:
        audit_published_keys(published, expected_keys, report)
    verifier = Verifier(
        VerificationPolicy(
            trusted_log_keys=(log_vkey,),
            trusted_tsa_roots=tuple(tsa_roots),
            origin=origin,
            log_key_history=log_key_history,
        )
    )
    state = audit_archive(store, verifier, origin, report, progress)
    if report.ok:
        audit_index(engine, state, report)
    if report.ok:
        audit_artifacts(store, state, records, report, content=content, progress=progress)
    audit_store_versions(store, records, report)
    audit_unreferenced_objects(store, records, report)
    return report


def audit_unreferenced_objects(
    store: ObjectStore, records: Sequence[ArtifactRecord], report: Report
) -> None:
    """Stored bytes no artifact points at: an upload stored its object, then died (or was
    refused) before its ingest event was sealed, or is being ingested right now. They are
    not evidence and are served by no API, but the write-once store keeps them until
    their retention ends, so the auditor is told what they are instead of finding them."""
    referenced = {r.object_key for r in records}
    unreferenced = sorted(k for k in store.list_keys(EVIDENCE_PREFIX) if k not in referenced)
    if unreferenced:
        shown = ", ".join(unreferenced[:3]) + (" …" if len(unreferenced) > 3 else "")
        report.warn(
            f"{len(unreferenced)} stored object(s) belong to no artifact ({shown}): uploads "
            "interrupted before their ingest was sealed, or in progress; not evidence, kept "
            "by the store until their retention ends"
        )


def audit_store_versions(
    store: ObjectStore, records: Sequence[ArtifactRecord], report: Report
) -> None:
    """On a versioned store (S3), every archived key must hold only the version the vault
    wrote. Reads always go to that original, so a later version or a delete marker
    changes nothing the vault serves, but it is someone else writing to the evidence
    bucket and is named here."""
    if not isinstance(store, VersionedStore):
        return
    owners: dict[str, list[ArtifactRecord]] = {}
    for rec in records:
        owners.setdefault(rec.object_key, []).append(rec)
    tampered = []
    for prefix in PROTECTED_PREFIXES:  # evidence objects and the sealed ledger
        for found in store.shadowed_objects(prefix):
            if found.tampered:
                tampered.append(found)
            elif found.duplicate_versions:
                report.warn(f"{found.key}: {found.describe()} (harmless: same content)")
    if tampered:
        first = tampered[0]
        arts = owners.get(first.key, [])
        whose = (
            " (evidence of " + ", ".join(f"{r.artifact_id} in {r.case_id}" for r in arts) + ")"
            if arts
            else ""
        )
        more = f"; {len(tampered) - 1} more object(s) too" if len(tampered) > 1 else ""
        _fail(
            report,
            "store versions",
            StoreTampering(
                f"{first.describe()} at the server{whose}. The vault reads the original "
                f"version {first.original_version}, which Object Lock keeps intact{more}",
                subject=first.key,
            ),
        )
        return
    report.run(
        "store versions",
        lambda: "every evidence and ledger object holds only the version the vault wrote",
    )
