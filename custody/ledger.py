"""The append-only custody ledger: sealing batches of events, and reading proofs back.

A seal is one database transaction under the sequencer lock: it assigns leaf
indices, links each event to the previous one about the same item, stores the new
tree nodes and writes one signed checkpoint. Timestamps are fetched after the lock
is released so a slow TSA never stalls other writers; a checkpoint whose TSA did
not answer stays `tokens_pending` until `retry_pending_timestamps` succeeds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, Union

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_der_x509_certificate
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from custody.db import lock_sequencer, sequencer_connection
from custody.faults import crash_point
from custody.models import ChainHead, CheckpointRow, CosignatureRow, LedgerEvent, TimestampRow
from custody.nodes import DbNodeSource, LayeredNodeSource, insert_nodes
from custody.proofs import (
    MissingNode,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    tree_root,
)
from custody.reader import LedgerReader
from custody.signing import NoteSigner
from custody.tiles import TilePublisher
from custody.timestamps import TimestampAuthority, TimestampToken
from custody.witnesses import WitnessCollector
from storage.base import ObjectStore
from verify.checkpoint import Checkpoint
from verify.errors import LeafHashMismatch, VerificationError
from verify.events import Event, chain_key, decode_event, encode_event
from verify.merkle import leaf_hash, verify_inclusion
from verify.note import verify_checkpoint_note
from verify.timestamp import verify_timestamp

log = logging.getLogger(__name__)

_EVENTS = LedgerEvent.__table__  # type: ignore[attr-defined]
_HEADS = ChainHead.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_TIMESTAMPS = TimestampRow.__table__  # type: ignore[attr-defined]
_COSIGNATURES = CosignatureRow.__table__  # type: ignore[attr-defined]


SEALS_PREFIX = "ledger/seals/"
TIMESTAMPS_PREFIX = "ledger/timestamps/"


class LedgerError(Exception):
    """Base for ledger failures the caller can act on."""


class UnknownEntry(LedgerError):
    """No event, checkpoint or tree of that index/size exists."""


class Refused(LedgerError):
    """A draft's precondition did not hold inside the seal: it was not sealed (the rest of
    its batch was). `current` describes the state that was found instead."""

    def __init__(self, message: str, current: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.current: dict[str, Any] = dict(current or {})


@dataclass(frozen=True)
class EventDraft:
    """An event before sequencing: `at`, `prev` and its index are fixed by the seal."""

    type: str
    actor_id: str
    actor_role: str
    body: dict[str, Any]
    case: str | None = None
    item: str | None = None
    #: conditions on the vault's state, checked inside the seal's transaction (after the
    #: events sealed before this one in the same batch); opaque to the ledger
    preconditions: tuple[Any, ...] = ()
    #: values the projection needs that are not facts and are never sealed (a token hash)
    private: Mapping[str, Any] = field(default_factory=dict)


class BatchWriter(Protocol):
    """Decides drafts and projects sealed events onto the index tables, in one seal."""

    def wants(self, draft: EventDraft) -> bool:
        """False when the draft has no precondition, no id to allocate and no projection."""

    def step(self, draft: EventDraft, at: datetime) -> AbstractContextManager[EventDraft]:
        """Decide one draft: raise `Refused`, or yield the draft to seal (ids allocated).
        Whatever the step wrote is undone when the block raises."""

    def project(self, index: int, event: Event, draft: EventDraft) -> None:
        """Write the rows the sealed event implies."""


class StateWriter(Protocol):
    def batch(self, conn: Connection) -> AbstractContextManager[BatchWriter]: ...

    def committed(self, types: Sequence[str]) -> None:
        """Called once the seal's transaction has committed, with the sealed event types."""


Outcome = Union["Receipt", Exception]


@dataclass(frozen=True)
class SealedEvent:
    index: int
    canonical: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class StoredTimestamp:
    tsa: str
    tsr_der: bytes
    gen_time: datetime
    chain_der: tuple[bytes, ...]


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: bytes
    timestamps: tuple[StoredTimestamp, ...]
    tokens_pending: int
    #: witnesses' cosignature lines (C2SP tlog-cosignature), in witness key order
    cosignatures: tuple[bytes, ...] = ()

    @property
    def cosigned_note(self) -> bytes:
        """The signed checkpoint with every witness cosignature gathered so far appended: still
        one signed note, which a verifier that knows no witness reads as before."""
        return self.note + b"".join(self.cosignatures)


@dataclass(frozen=True)
class Receipt:
    """Everything an offline verifier needs for one event (see README, "Receipts")."""

    origin: str
    log_key: str
    event: SealedEvent
    checkpoint: SignedCheckpoint
    inclusion_proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        # The wire format is defined once, in verify.receipt, beside its reader.
        from verify.receipt import receipt_json, timestamp_entry

        return receipt_json(
            origin=self.origin,
            log_key=self.log_key,
            event=self.event.canonical,
            leaf_index=self.event.index,
            leaf_hash=self.event.leaf_hash,
            tree_size=self.checkpoint.size,
            inclusion_proof=self.inclusion_proof,
            checkpoint=self.checkpoint.cosigned_note,
            timestamps=[
                timestamp_entry(t.tsa, t.gen_time, t.tsr_der, t.chain_der)
                for t in self.checkpoint.timestamps
            ],
            timestamps_pending=self.checkpoint.tokens_pending,
        )


def timestamp_json(t: StoredTimestamp) -> dict[str, Any]:
    return {
        "tsa": t.tsa,
        "gen_time": t.gen_time.astimezone(UTC).isoformat(),
        "token": base64.b64encode(t.tsr_der).decode(),
        "chain": [base64.b64encode(c).decode() for c in t.chain_der],
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Ledger:
    engine: Engine
    origin: str
    signer: NoteSigner
    authorities: Sequence[TimestampAuthority] = ()
    store: ObjectStore | None = None
    clock: Callable[[], datetime] = _utcnow
    #: after a TSA fails, seals skip it (tokens pending) for this long instead of waiting
    #: out its timeout on every seal; `retry_pending_timestamps` catches up later
    tsa_backoff_s: float = 30.0
    #: the index tables' single writer (decides preconditions, projects events); None for
    #: a bare ledger
    state: StateWriter | None = None
    #: publishes the ledger as C2SP tlog-tiles after each seal (never failing it)
    tiles: TilePublisher | None = None
    #: asks witnesses to cosign each checkpoint after the TSAs (never failing the seal)
    witnesses: WitnessCollector | None = None
    _log_key: str = field(init=False, default="")
    _tsa_down_until: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._log_key = self.signer.vkey()

    @property
    def log_key(self) -> str:
        return self._log_key

    @property
    def reader(self) -> LedgerReader:
        """Queries by case, chain heads and checkpoints, for the service's read paths."""
        return LedgerReader(self.engine)

    # -- writing -------------------------------------------------------------------

    def seal(self, drafts: Sequence[EventDraft]) -> list[Receipt]:
        """Append `drafts` in order, sign one checkpoint, timestamp it, return receipts.

        Raises the first refusal if any draft was refused (the others are sealed): for
        callers that seal one draft at a time. The sequencer uses `seal_each`.
        """
        outcomes = self.seal_each(drafts)
        for o in outcomes:
            if isinstance(o, Exception):
                raise o
        return [o for o in outcomes if isinstance(o, Receipt)]

    def seal_each(self, drafts: Sequence[EventDraft]) -> list[Outcome]:
        """Seal what can be sealed: one outcome per draft, a receipt or why it was refused."""
        if not drafts:
            raise ValueError("nothing to seal")
        with sequencer_connection(self.engine) as conn, conn.begin():
            lock_sequencer(conn)
            sealed, refused, checkpoint, source = self._append(conn, drafts)
            crash_point("seal.before_commit")
        if checkpoint is None:
            return [refused[i] for i in range(len(drafts))]
        if self.state is not None:
            self.state.committed([d.type for i, d in enumerate(drafts) if i not in refused])
        self.signer.signed_durably(checkpoint.size, checkpoint.root, checkpoint.note)
        crash_point("seal.after_commit")
        self._archive(sealed, checkpoint)
        crash_point("seal.after_archive")
        if self.tiles is not None:
            self.tiles.catch_up()
        checkpoint = self._timestamp(checkpoint)
        checkpoint = self._cosign(checkpoint)
        proofs = iter(inclusion_proofs([ev.index for ev in sealed], checkpoint.size, source))
        events = iter(sealed)
        outcomes: list[Outcome] = []
        for i in range(len(drafts)):
            if i in refused:
                outcomes.append(refused[i])
                continue
            outcomes.append(
                Receipt(
                    origin=self.origin,
                    log_key=self._log_key,
                    event=next(events),
                    checkpoint=checkpoint,
                    inclusion_proof=tuple(next(proofs)),
                )
            )
        return outcomes

    def _append(
        self, conn: Connection, drafts: Sequence[EventDraft]
    ) -> tuple[list[SealedEvent], dict[int, Exception], SignedCheckpoint | None, LayeredNodeSource]:
        # The checkpoint is written in the same transaction as its events, so the
        # largest checkpoint is the tree size (an index lookup, unlike COUNT(*)).
        size = int(conn.execute(select(func.max(_CHECKPOINTS.c.size))).scalar_one() or 0)
        source = LayeredNodeSource(DbNodeSource(conn))
        with self.state.batch(conn) if self.state else nullcontext(None) as batch:
            sealed, refused, rows, new_heads = self._decide(conn, batch, size, drafts)
        if not sealed:
            return sealed, refused, None, source
        new_nodes = append_leaves(size, source, [e.leaf_hash for e in sealed])
        source.add(new_nodes)
        new_size = size + len(sealed)
        root = tree_root(new_size, source)
        conn.execute(insert(_EVENTS), rows)
        insert_nodes(conn, new_nodes)
        upsert_heads(conn, new_heads)
        note = self.signer.sign_note(Checkpoint(self.origin, new_size, root).body())
        conn.execute(
            insert(_CHECKPOINTS),
            {
                "size": new_size,
                "root": root,
                "note": note.decode(),
                "created_at": rows[0]["at"],
                "tokens_pending": len(self.authorities),
            },
        )
        checkpoint = SignedCheckpoint(new_size, root, note, (), len(self.authorities))
        return sealed, refused, checkpoint, source

    def _decide(
        self,
        conn: Connection,
        batch: BatchWriter | None,
        size: int,
        drafts: Sequence[EventDraft],
    ) -> tuple[
        list[SealedEvent],
        dict[int, Exception],
        list[dict[str, Any]],
        dict[str, tuple[int, bytes]],
    ]:
        """Encode each draft in order; a draft whose step refuses is left out alone."""
        at = self.clock()
        keys = {chain_key(d.case, d.item) for d in drafts}
        heads: dict[str, bytes] = {
            k: bytes(h)
            for k, h in conn.execute(
                select(_HEADS.c.chain_key, _HEADS.c.leaf_hash).where(_HEADS.c.chain_key.in_(keys))
            )
        }
        sealed: list[SealedEvent] = []
        refused: dict[int, Exception] = {}
        rows: list[dict[str, Any]] = []
        new_heads: dict[str, tuple[int, bytes]] = {}

        def add(d: EventDraft) -> tuple[int, bytes]:
            index = size + len(sealed)
            key = chain_key(d.case, d.item)
            canonical = encode_event(
                type=d.type,
                case=d.case,
                item=d.item,
                actor_id=d.actor_id,
                actor_role=d.actor_role,
                at=at,
                prev=heads.get(key),
                body=d.body,
            )
            return index, canonical

        def keep(d: EventDraft, index: int, canonical: bytes) -> None:
            key = chain_key(d.case, d.item)
            lh = leaf_hash(canonical)
            heads[key] = lh
            new_heads[key] = (index, lh)
            sealed.append(SealedEvent(index=index, canonical=canonical, leaf_hash=lh))
            rows.append(
                {
                    "leaf_index": index,
                    "leaf_hash": lh,
                    "chain_key": key,
                    "type": d.type,
                    "case": d.case,
                    "item": d.item,
                    "actor_id": d.actor_id,
                    "at": at,
                    "canonical": canonical,
                    "sealed_in": 0,  # set below, once the batch's size is known
                }
            )

        for i, d in enumerate(drafts):
            if batch is None or not batch.wants(d):
                keep(d, *add(d))
                continue
            try:
                with batch.step(d, at) as decided:
                    index, canonical = add(decided)
                    batch.project(index, decode_event(canonical), decided)
            except Exception as exc:  # this draft alone is refused; its batch goes on
                if not isinstance(exc, Refused):
                    log.exception("event %s refused by its projection", d.type)
                refused[i] = exc
                continue
            keep(decided, index, canonical)
        for row in rows:
            row["sealed_in"] = size + len(sealed)
        return sealed, refused, rows, new_heads

    def _timestamp(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        """Ask every TSA for a token over SHA-256 of the checkpoint body; keep what arrives."""
        if not self.authorities:
            return checkpoint
        digest = hashlib.sha256(Checkpoint(self.origin, checkpoint.size, checkpoint.root).body())
        got: list[StoredTimestamp] = []
        for tsa in self.authorities:
            token = self._ask(tsa, digest.digest(), checkpoint.size)
            if token is not None:
                got.append(self._save_token(checkpoint.size, token))
        return self.checkpoint(checkpoint.size) if got else checkpoint

    def _cosign(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        """Witness cosignatures on the new checkpoint; a witness that fails stays pending."""
        if self.witnesses is None:
            return checkpoint
        try:
            if self.witnesses.collect(checkpoint.size, checkpoint.note, self.consistency):
                return self.checkpoint(checkpoint.size)
        except Exception:  # the seal stands without them; `retry_cosignatures` catches up
            log.exception("collecting cosignatures for checkpoint %d failed", checkpoint.size)
        return checkpoint

    def retry_cosignatures(self) -> int:
        """Bring witnesses that missed checkpoints up to the latest one."""
        if self.witnesses is None:
            return 0

        def latest() -> tuple[int, bytes]:
            cp = self.checkpoint()
            return cp.size, cp.note

        return self.witnesses.retry(latest, self.consistency)

    def _ask(self, tsa: TimestampAuthority, digest: bytes, size: int) -> TimestampToken | None:
        """A token, or None (pending) when the TSA fails or is backing off after a failure."""
        if time.monotonic() < self._tsa_down_until.get(tsa.name, 0.0):
            return None
        try:
            token = tsa.timestamp(digest)
        except Exception as exc:  # any TSA failure leaves the token pending, never loses data
            log.warning("TSA %s failed for checkpoint %d: %s", tsa.name, size, exc)
            self._tsa_down_until[tsa.name] = time.monotonic() + self.tsa_backoff_s
            return None
        self._tsa_down_until.pop(tsa.name, None)
        return token

    def _save_token(self, size: int, token: TimestampToken) -> StoredTimestamp:
        stored = StoredTimestamp(token.tsa, token.tsr_der, token.info.gen_time, token.chain_der)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(_TIMESTAMPS),
                    {
                        "checkpoint_size": size,
                        "tsa": token.tsa,
                        "tsr": token.tsr_der,
                        "gen_time": token.info.gen_time,
                        "chain_pem": chain_to_pem(token.chain_der),
                    },
                )
                conn.execute(
                    update(_CHECKPOINTS)
                    .where(_CHECKPOINTS.c.size == size)
                    .values(tokens_pending=_CHECKPOINTS.c.tokens_pending - 1)
                )
        except IntegrityError:
            # Another process's retry pass got a token from this TSA for this checkpoint
            # first: theirs is kept (and archived by them), and the seal that asked stands.
            log.info("token %s of checkpoint %d was saved by another process", token.tsa, size)
            return next(t for t in self.checkpoint(size).timestamps if t.tsa == token.tsa)
        self._archive_token(size, stored)
        return stored

    def _archive_token(self, size: int, stamp: StoredTimestamp) -> None:
        """The raw token for `openssl ts -verify -in`, and the token with its chain so a
        rebuild from the store alone can issue complete receipts again."""
        if self.store is None:
            return
        prefix = f"{TIMESTAMPS_PREFIX}{size:015d}/{stamp.tsa}"
        self.store.put_bytes(f"{prefix}.tsr", stamp.tsr_der)
        self.store.put_bytes(
            f"{prefix}.json", json.dumps(timestamp_json(stamp), sort_keys=True).encode()
        )

    def retry_pending_timestamps(self, older_than_s: float = 0.0) -> int:
        """Fetch tokens still owed (the TSA was down at seal time). Returns tokens obtained.

        `older_than_s` spares checkpoints sealed that recently: another process sharing the
        database may still be asking the TSAs for them, and a second token is a wasted
        (possibly paid) TSA request. A duplicate that slips through is harmless.
        """
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        with self.engine.connect() as conn:
            pending = list(
                conn.execute(
                    select(_CHECKPOINTS.c.size, _CHECKPOINTS.c.root)
                    .where(_CHECKPOINTS.c.tokens_pending > 0)
                    .where(_CHECKPOINTS.c.created_at <= cutoff)
                    .order_by(_CHECKPOINTS.c.size)
                )
            )
            have = {
                (s, t)
                for s, t in conn.execute(
                    select(_TIMESTAMPS.c.checkpoint_size, _TIMESTAMPS.c.tsa).where(
                        _TIMESTAMPS.c.checkpoint_size.in_([p[0] for p in pending])
                    )
                )
            }
        # A retry pass asks each TSA afresh once; if it fails again, the back-off set by
        # that failure spares the remaining pending checkpoints of this pass.
        for tsa in self.authorities:
            self._tsa_down_until.pop(tsa.name, None)
        obtained = 0
        for size, root in pending:
            body = Checkpoint(self.origin, size, bytes(root)).body()
            for tsa in self.authorities:
                if (size, tsa.name) in have:
                    continue
                token = self._ask(tsa, hashlib.sha256(body).digest(), size)
                if token is None:
                    continue
                self._save_token(size, token)
                obtained += 1
        return obtained

    def _archive(self, sealed: Sequence[SealedEvent], checkpoint: SignedCheckpoint) -> None:
        """Write the seal (events + signed checkpoint) to the WORM store: the source of truth."""
        if self.store is None:
            return
        doc = {
            "format": "locard-seal/1",
            "first": sealed[0].index,
            "size": checkpoint.size,
            "events": [base64.b64encode(e.canonical).decode() for e in sealed],
            "checkpoint": checkpoint.note.decode(),
        }
        self.store.put_bytes(
            f"{SEALS_PREFIX}{checkpoint.size:015d}.json", json.dumps(doc, sort_keys=True).encode()
        )

    def catch_up_archive(self) -> int:
        """Archive what a crash between the database commit and the archive write left out.

        Nothing unverified enters the write-once store: each event must prove inclusion
        under its checkpoint's signed root, and each token must verify, before either is
        archived; anything else is left for the audit to report. Returns objects written.
        """
        if self.store is None:
            return 0
        archived = {
            int(k.removeprefix(SEALS_PREFIX).removesuffix(".json"))
            for k in self.store.list_keys(SEALS_PREFIX)
            if k.endswith(".json")
        }
        with self.engine.connect() as conn:
            sizes = [
                int(s)
                for s in conn.execute(
                    select(_CHECKPOINTS.c.size).order_by(_CHECKPOINTS.c.size)
                ).scalars()
            ]
        verifier = self.signer.history_verifiers()
        written = 0
        previous = 0
        for size in sizes:
            first, previous = previous, size
            if size in archived:
                continue
            cp = self.checkpoint(size)
            try:
                signed = verify_checkpoint_note(cp.note, verifier, origin=self.origin)
                sealed = self.entries(first, size)
                for ev in sealed:
                    if leaf_hash(ev.canonical) != ev.leaf_hash:
                        raise LeafHashMismatch(
                            "stored leaf hash differs", subject=f"event {ev.index}"
                        )
                    verify_inclusion(
                        ev.leaf_hash, ev.index, size, self.inclusion(ev.index, size), signed.root
                    )
            except (VerificationError, MissingNode) as exc:
                log.error("not archiving seal %d: it does not verify (%s)", size, exc)
                continue
            self._archive(sealed, cp)
            written += 1
        written += self._catch_up_tokens()
        if written:
            log.warning("archived %d objects a crash had left out", written)
        return written

    def _catch_up_tokens(self) -> int:
        assert self.store is not None
        roots = [r for tsa in self.authorities for r in tsa.trust_roots()]
        written = 0
        with self.engine.connect() as conn:
            rows = list(conn.execute(select(_TIMESTAMPS.c.checkpoint_size, _TIMESTAMPS.c.tsa)))
        # One listing, not one request per token: a vault's start-up must not grow with
        # its age in round trips to the store.
        archived = set(self.store.list_keys(TIMESTAMPS_PREFIX))
        for size, tsa in rows:
            key = f"{TIMESTAMPS_PREFIX}{int(size):015d}/{tsa}.json"
            if key in archived:
                continue
            cp = self.checkpoint(int(size))
            stamp = next(t for t in cp.timestamps if t.tsa == tsa)
            digest = hashlib.sha256(Checkpoint(self.origin, cp.size, cp.root).body()).digest()
            try:
                verify_timestamp(stamp.tsr_der, digest, roots=roots, intermediates=stamp.chain_der)
            except VerificationError as exc:
                log.error("not archiving token %s of %d: %s", tsa, size, exc)
                continue
            self._archive_token(int(size), stamp)
            written += 1
        return written

    # -- reading -------------------------------------------------------------------

    def size(self) -> int:
        with self.engine.connect() as conn:
            size = conn.execute(select(func.max(_CHECKPOINTS.c.size))).scalar_one()
        return int(size or 0)

    def checkpoint(self, size: int | None = None) -> SignedCheckpoint:
        with self.engine.connect() as conn:
            q = select(_CHECKPOINTS)
            q = (
                q.where(_CHECKPOINTS.c.size == size)
                if size is not None
                else q.order_by(_CHECKPOINTS.c.size.desc()).limit(1)
            )
            row = conn.execute(q).mappings().first()
            if row is None:
                raise UnknownEntry(f"no checkpoint of size {size}" if size else "ledger is empty")
            tokens = conn.execute(
                select(_TIMESTAMPS)
                .where(_TIMESTAMPS.c.checkpoint_size == row["size"])
                .order_by(_TIMESTAMPS.c.tsa)
            ).mappings()
            stamps = tuple(
                StoredTimestamp(
                    t["tsa"], bytes(t["tsr"]), _aware(t["gen_time"]), pem_to_chain(t["chain_pem"])
                )
                for t in tokens
            )
            cosigs = tuple(
                str(line).encode()
                for line in conn.execute(
                    select(_COSIGNATURES.c.line)
                    .where(_COSIGNATURES.c.checkpoint_size == row["size"])
                    .order_by(_COSIGNATURES.c.witness)
                ).scalars()
            )
        return SignedCheckpoint(
            int(row["size"]),
            bytes(row["root"]),
            row["note"].encode(),
            stamps,
            int(row["tokens_pending"]),
            cosigs,
        )

    def timestamps(self) -> Iterator[tuple[int, StoredTimestamp]]:
        """Every checkpoint token, oldest checkpoint first, with its checkpoint's size."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_TIMESTAMPS).order_by(_TIMESTAMPS.c.checkpoint_size, _TIMESTAMPS.c.tsa)
            ).mappings()
            for t in rows:
                yield (
                    int(t["checkpoint_size"]),
                    StoredTimestamp(
                        t["tsa"],
                        bytes(t["tsr"]),
                        _aware(t["gen_time"]),
                        pem_to_chain(t["chain_pem"]),
                    ),
                )

    def event(self, index: int) -> SealedEvent:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_EVENTS.c.canonical, _EVENTS.c.leaf_hash).where(
                    _EVENTS.c.leaf_index == index
                )
            ).first()
        if row is None:
            raise UnknownEntry(f"no event at index {index}")
        return SealedEvent(index, bytes(row[0]), bytes(row[1]))

    def receipt(self, index: int, tree_size: int | None = None) -> Receipt:
        """Receipt for event `index` against checkpoint `tree_size` (default: the latest)."""
        checkpoint = self.checkpoint(tree_size)
        if index >= checkpoint.size or index < 0:
            raise UnknownEntry(f"event {index} is not in the tree of size {checkpoint.size}")
        ev = self.event(index)
        with self.engine.connect() as conn:
            proof = inclusion_proof(index, checkpoint.size, DbNodeSource(conn))
        return Receipt(self.origin, self._log_key, ev, checkpoint, tuple(proof))

    def inclusion(self, index: int, tree_size: int) -> list[bytes]:
        self._check_size(tree_size)
        if not 0 <= index < tree_size:
            raise UnknownEntry(f"index {index} outside tree of size {tree_size}")
        with self.engine.connect() as conn:
            return inclusion_proof(index, tree_size, DbNodeSource(conn))

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        self._check_size(size2)
        if not 0 <= size1 <= size2:
            raise UnknownEntry(f"no consistency proof from {size1} to {size2}")
        with self.engine.connect() as conn:
            return consistency_proof(size1, size2, DbNodeSource(conn))

    def root(self, tree_size: int) -> bytes:
        self._check_size(tree_size)
        with self.engine.connect() as conn:
            return tree_root(tree_size, DbNodeSource(conn))

    def entries(self, start: int, end: int) -> list[SealedEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_EVENTS.c.leaf_index, _EVENTS.c.canonical, _EVENTS.c.leaf_hash)
                .where(_EVENTS.c.leaf_index >= start, _EVENTS.c.leaf_index < end)
                .order_by(_EVENTS.c.leaf_index)
            )
            return [SealedEvent(int(i), bytes(c), bytes(h)) for i, c, h in rows]

    def chain(self, key: str) -> list[SealedEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_EVENTS.c.leaf_index, _EVENTS.c.canonical, _EVENTS.c.leaf_hash)
                .where(_EVENTS.c.chain_key == key)
                .order_by(_EVENTS.c.leaf_index)
            )
            return [SealedEvent(int(i), bytes(c), bytes(h)) for i, c, h in rows]

    def _check_size(self, tree_size: int) -> None:
        if not 0 <= tree_size <= self.size():
            raise UnknownEntry(f"tree size {tree_size} is beyond the ledger ({self.size()})")


def upsert_heads(conn: Connection, heads: dict[str, tuple[int, bytes]]) -> None:
    """One executemany upsert; both SQLite (3.24+) and PostgreSQL speak ON CONFLICT."""
    insert_fn = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert_fn(_HEADS)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_HEADS.c.chain_key],
        set_={"leaf_index": stmt.excluded.leaf_index, "leaf_hash": stmt.excluded.leaf_hash},
    )
    conn.execute(
        stmt, [{"chain_key": k, "leaf_index": i, "leaf_hash": h} for k, (i, h) in heads.items()]
    )


def decode_sealed(ev: SealedEvent) -> dict[str, Any]:
    return decode_event(ev.canonical).as_json()


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def chain_to_pem(chain: Sequence[bytes]) -> str:
    return "".join(load_der_x509_certificate(c).public_bytes(Encoding.PEM).decode() for c in chain)


def pem_to_chain(pem: str) -> tuple[bytes, ...]:
    from cryptography.x509 import load_pem_x509_certificates

    if not pem:
        return ()
    return tuple(c.public_bytes(Encoding.DER) for c in load_pem_x509_certificates(pem.encode()))
