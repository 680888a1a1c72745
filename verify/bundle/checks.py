"""Verifying a bundle: structure, keys, checkpoints, tokens, history, events, export, artifacts.

Every claim is re-derived from the signed checkpoints (inclusion, consistency, tokens), the
hashes the ledger recorded (artifacts) and the `export` event, which the vault sealed before
writing the bundle and which names each artifact and the last event of each chain the bundle
must hold. That is what makes a removed chain tail, a dropped artifact or an added event
visible. Members are read one at a time and artifacts are hashed in chunks, so memory does not
grow with artifact size; per event only a few hashes per chain are kept.
"""

from __future__ import annotations

import functools
import zipfile
from datetime import datetime
from pathlib import Path

from verify.bundle.collector import COLLECTOR_TYPES, check_collector
from verify.bundle.contents import ChainState, EventsPass, check_artifact, check_export
from verify.bundle.history import follow_key_history, read_key_history
from verify.bundle.layout import (
    LOG_KEY_MEMBER,
    MANIFEST,
    checkpoint_member,
    consistency_member,
    event_member,
    proof_member,
    token_member,
)
from verify.bundle.manifest import (
    MAX_MANIFEST_BYTES,
    BundleManifest,
    check_layout,
    expected_members,
    parse_manifest,
)
from verify.bundle.members import ZIP_ERRORS, Members, ProgressFn
from verify.bundle.proofs import InclusionProof, parse_consistency_proof, parse_inclusion_proof
from verify.checkpoint import Checkpoint
from verify.errors import (
    BundleMemberError,
    CheckpointFormatError,
    EventsReordered,
    InclusionProofError,
    KeyMismatch,
    MalformedInput,
    MemberTooLarge,
    MissingEvent,
    OrderError,
    TreeSizeMismatch,
    UnexpectedEvent,
    VerificationError,
)
from verify.events import Event, decode_event
from verify.merkle import verify_consistency, verify_inclusion
from verify.note import NoteVerifier
from verify.policy import VerificationPolicy
from verify.receipt import TimestampEvidence
from verify.renewal import parse_record
from verify.report import Report
from verify.times import CheckpointBounds, check_event_time, tightest_bound
from verify.timestamp import TimestampInfo, load_pem_or_der_certs
from verify.verifier import Verifier, about, key_label


def verify_bundle(
    path: Path,
    policy: VerificationPolicy | None = None,
    *,
    progress: ProgressFn | None = None,
) -> Report:
    """Verify a bundle file; every problem is a failed check naming the item, never a raise.

    Raises only PolicyError, for pins the `policy` holds that cannot be used at all.
    """
    verifier = Verifier(policy)
    report = Report(subject=f"bundle {path.name}", unpinned=verifier.missing_pins())
    holder: dict[str, zipfile.ZipFile] = {}

    def _open() -> tuple[Members, str]:
        try:
            holder["zf"] = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise MalformedInput(f"{path} is not a readable zip: {exc}") from exc
        members = Members(holder["zf"], progress)
        return members, f"{len(members.infos)} members, {members.total} bytes"

    members = report.step("bundle file", _open)
    try:
        if members is not None:
            _BundleCheck(verifier, report, members).run()
    finally:
        if "zf" in holder:
            holder["zf"].close()
    return report


class _BundleCheck:
    def __init__(self, verifier: Verifier, report: Report, members: Members) -> None:
        self.v = verifier
        self.report = report
        self.members = members
        self.manifest: BundleManifest | None = None
        self.checkpoints: dict[int, Checkpoint] = {}
        self.notes: dict[int, bytes] = {}
        #: the tightest verified token of each checkpoint; None until every token verified
        self.bounds: CheckpointBounds | None = None

    @property
    def m(self) -> BundleManifest:
        assert self.manifest is not None
        return self.manifest

    def run(self) -> None:
        r = self.report
        if not r.run("manifest", self._manifest):
            return
        key = r.step("log key", self._log_key)
        if key is None or not r.run("checkpoint signatures", lambda: self._checkpoints(key)):
            return
        if self.v.policy.witness_policy is not None:
            r.run("witness quorum", self._quorum)
        # Tokens and history are independent of each event's inclusion: report all three.
        r.run("timestamps", self._timestamps)
        r.run("consistency", self._consistency)
        result = r.step("event inclusion", self._events)
        if result is None:
            return
        r.run("custody chains", lambda: self._chains(result))
        if self.bounds is not None:
            r.run("event times", lambda: self._times(result))
        r.run("export record", lambda: check_export(self.m, result))
        if result.collector:
            r.run("collector hashes", lambda: self._collector(result))
        for art in self.m.artifacts:
            check = functools.partial(check_artifact, self.m, self.members, art, result)
            r.run(f"artifact {art.id}", check)

    # -- structure ------------------------------------------------------------------------

    def _manifest(self) -> str:
        ms = self.members
        ms.stage = "manifest"
        info = ms.infos.get(MANIFEST)
        if info is None:
            raise MalformedInput(f"the zip has no {MANIFEST}: not a Locard bundle")
        if info.file_size > MAX_MANIFEST_BYTES:
            # Refused unread: a few KB of deflate can claim (and hold) gigabytes.
            raise MemberTooLarge(
                f"{info.file_size} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have",
                subject=MANIFEST,
            )
        try:
            with ms.zf.open(info) as fh:
                data = fh.read(MAX_MANIFEST_BYTES + 1)
        except ZIP_ERRORS as exc:
            raise BundleMemberError(f"unreadable: {exc}", subject=MANIFEST) from exc
        if len(data) > MAX_MANIFEST_BYTES:
            raise MemberTooLarge(f"more than {MAX_MANIFEST_BYTES} bytes", subject=MANIFEST)
        ms.advance(info.file_size)
        m = parse_manifest(data)
        check_layout(m)
        self.manifest = m
        self.report.subject = f"bundle of case {m.case}"
        ms.digests = dict(m.files)
        expected = expected_members(m)
        for name in sorted(set(ms.infos) - expected - {MANIFEST}):
            raise BundleMemberError(
                "in the zip but not part of the bundle's structure", subject=name
            )
        for name in sorted(set(m.files) - expected):
            raise BundleMemberError("listed in the manifest's files but not used", subject=name)
        sizes = [c.size for c in m.checkpoints]
        if not sizes or sizes != sorted(set(sizes)):
            raise MalformedInput("checkpoints must be listed once each, in increasing size")
        if sizes[-1] != m.anchor:
            raise MalformedInput(f"the anchor {m.anchor} is not the largest listed checkpoint")
        ids = [a.id for a in m.artifacts]
        if len(set(ids)) != len(ids):
            raise MalformedInput("an artifact is listed twice")
        content = "with content" if m.content else "proofs only, no content"
        # exported_by and created_at are the exporter's word, signed by nobody: shown as
        # claims. The checked facts are the sealed export event's actor and time.
        return (
            f"case {m.case} of {m.origin}: {len(m.events)} events, {len(m.artifacts)} "
            f"artifacts ({content}), {len(sizes)} checkpoints; unsigned claims, not checked: "
            f"exported by {m.exported_by[:200]} at {m.created_at[:64]}"
        )

    def _quorum(self) -> str:
        """The witness quorum on the anchor: every event is proved in it, and the
        consistency proofs tie every earlier checkpoint to it."""
        policy = self.v.policy.witness_policy
        assert policy is not None
        with about(f"checkpoint {self.m.anchor}"):
            verdict, _ = policy.check(self.notes[self.m.anchor], self.m.anchor)
        return verdict

    def _log_key(self) -> tuple[NoteVerifier, str]:
        self.members.stage = "keys"
        if self.m.key_history is not None:
            with about(self.m.key_history):
                history = read_key_history(self.members, self.m.key_history)
                self.v = follow_key_history(self.v, self.report, history)
        with about(LOG_KEY_MEMBER):
            vkey = self.members.read(LOG_KEY_MEMBER).decode("utf-8", "replace").strip()
            if vkey != self.m.log_key:
                raise KeyMismatch("the manifest names another log key than keys/log.vkey")
            key = self.v.log_verifier(vkey, self.report)
        pinned = "pinned" if self.v.policy.trusted_log_keys else "NOT pinned"
        return key, f"{key_label(key)} ({pinned})"

    def _checkpoints(self, key: NoteVerifier) -> str:
        self.members.stage = "checkpoints"
        for entry in self.m.checkpoints:
            with about(f"checkpoint {entry.size}"):
                note = self.members.read(checkpoint_member(entry.size))
                cp = self.v.check_checkpoint(note, key, self.m.origin)
                if cp.size != entry.size:
                    raise CheckpointFormatError(f"the note is the checkpoint of size {cp.size}")
                self.checkpoints[cp.size] = cp
                self.notes[cp.size] = note
        sizes = sorted(self.checkpoints)
        return (
            f"{len(sizes)} checkpoint(s), sizes {sizes[0]} … {sizes[-1]}, "
            f"signed by {key_label(key)}"
        )

    def _timestamps(self) -> str:
        self.members.stage = "timestamps"
        chains: dict[str, tuple[bytes, ...]] = {}
        for tsa in self.m.tsas:
            if tsa.root is not None:
                with about(tsa.root):
                    load_pem_or_der_certs(self.members.read(tsa.root))
        tokens = 0
        times: list[datetime] = []
        by: set[str] = set()
        bounds: dict[int, TimestampInfo | None] = {}
        # A checkpoint without a token fails this check, but the event times can still be
        # judged (unconfirmed where nothing covers them); a token that fails bounds nothing.
        missing: VerificationError | None = None
        for entry in self.m.checkpoints:
            subject = f"checkpoint {entry.size}"
            stamps = []
            with about(subject):
                for t in entry.timestamps:
                    if t.chain not in chains:
                        chains[t.chain] = tuple(load_pem_or_der_certs(self.members.read(t.chain)))
                    token = self.members.read(token_member(entry.size, t.tsa))
                    record = None
                    if t.renewal is not None:
                        record = parse_record(self.members.read(t.renewal), t.renewal)
                    stamps.append(TimestampEvidence(t.tsa, token, chains[t.chain], record))
            sub = Report(subject=subject)
            infos = self.v.check_timestamps(
                sub, self.checkpoints[entry.size], stamps, entry.timestamps_pending
            )
            for w in sub.warnings:
                self.report.warn(w)
            failed = sub.first_failure
            if failed is not None and failed.error is not None:
                if failed.error.subject is None:
                    failed.error.subject = subject
                if stamps:
                    raise failed.error
                missing = missing or failed.error
            bounds[entry.size] = tightest_bound(infos)
            tokens += len(infos)
            times.extend(i.gen_time for i in infos)
            by.update(s.tsa for s in stamps)
        self.bounds = CheckpointBounds(bounds)
        if missing is not None:
            raise missing
        if not tokens:
            return "no tokens (not required by the policy)"
        self_operated = [t.name for t in self.m.tsas if t.self_operated and t.name in by]
        note = (
            f"; {', '.join(self_operated)} is self-operated by the vault" if self_operated else ""
        )
        return (
            f"{tokens} RFC 3161 token(s) from {', '.join(sorted(by))}, "
            f"{min(times).isoformat()} … {max(times).isoformat()}{note}"
        )

    def _consistency(self) -> str:
        self.members.stage = "consistency"
        sizes = [c.size for c in self.m.checkpoints]
        for a, b in zip(sizes, sizes[1:], strict=False):
            with about(f"consistency {a}→{b}"):
                proof = parse_consistency_proof(self.members.read(consistency_member(a, b)), a, b)
                verify_consistency(a, b, proof, self.checkpoints[a].root, self.checkpoints[b].root)
        if len(sizes) == 1:
            return f"one checkpoint ({sizes[0]}): nothing to chain"
        return f"{len(sizes) - 1} proof(s) chain checkpoint {sizes[0]} to {sizes[-1]}: append-only"

    # -- events ---------------------------------------------------------------------------

    def _proof(self, index: int, *, count: bool = True) -> InclusionProof:
        data = self.members.read(
            proof_member(index), missing=MissingEvent("its inclusion proof is missing"), count=count
        )
        return parse_inclusion_proof(data, index, proof_member(index))

    def _events(self) -> tuple[EventsPass, str]:
        self.members.stage = "events"
        m = self.m
        anchor = self.checkpoints[m.anchor]
        wanted_ingests = {a.ingest_index for a in m.artifacts}
        out = EventsPass()
        previous = -1
        for entry in m.events:
            i = entry.index
            with about(f"event {i}"):
                if i <= previous:
                    raise OrderError(
                        f"listed after event {previous}: events must be in ledger order"
                    )
                previous = i
                data = self.members.read(
                    event_member(i), missing=MissingEvent("listed, but its file is missing")
                )
                ev = decode_event(data)
                proof = self._proof(i)
                if proof.tree_size != anchor.size:
                    raise TreeSizeMismatch(
                        f"proved against a tree of {proof.tree_size}, the anchor has {anchor.size}"
                    )
                try:
                    self.v.check_inclusion(ev.leaf_hash, i, proof.tree_size, proof.hashes, anchor)
                except InclusionProofError:
                    self._raise_if_misplaced(ev, i, anchor)
                    raise
                if (entry.chain, entry.type) != (ev.chain_key, ev.type):
                    raise MalformedInput(
                        f"the manifest calls it a {entry.type} event of {entry.chain}; "
                        f"it is a {ev.type} event of {ev.chain_key}"
                    )
                if ev.case != m.case:
                    raise UnexpectedEvent(f"it is about case {ev.case!r}, not {m.case!r}")
                if entry.sealed_in not in self.checkpoints or i >= entry.sealed_in:
                    raise MalformedInput(
                        f"the manifest says checkpoint {entry.sealed_in} sealed it, "
                        "and that is not a listed checkpoint covering it"
                    )
            if out.chain_error is None:
                out.chain_error = out.walk.check(i, ev.chain_key, ev.prev)
            out.walk.record(i, ev.chain_key, ev.leaf_hash)
            if self.bounds is not None and out.time_error is None:
                out.time_error = self._time(out, ev, i)
            state = out.chains.get(ev.chain_key)
            if state is None:
                out.chains[ev.chain_key] = ChainState(1, i, ev.leaf_hash)
            else:
                state.count, state.last_index, state.last_hash = state.count + 1, i, ev.leaf_hash
            if i == m.export_event:
                out.export = ev
            if i in wanted_ingests:
                out.ingests[i] = ev
            if ev.type in COLLECTOR_TYPES:
                out.collector.append((i, ev))
            out.count += 1
        return out, (
            f"{out.count} events, each proved in checkpoint {anchor.size} and covered by the "
            "checkpoint that first sealed it"
        )

    def _raise_if_misplaced(self, ev: Event, index: int, anchor: Checkpoint) -> None:
        """A genuine event filed under another index: say it is out of place, not forged."""
        for other in self.m.events:
            if other.index == index:
                continue
            try:
                proof = self._proof(other.index, count=False)
                verify_inclusion(ev.leaf_hash, other.index, anchor.size, proof.hashes, anchor.root)
            except VerificationError:
                continue
            raise EventsReordered(
                f"it holds the ledger's event {other.index} ({ev.type} of {ev.chain_key}): "
                "events were moved out of their ledger order"
            )

    def _time(self, out: EventsPass, ev: Event, index: int) -> VerificationError | None:
        """Check one event's times; return (not raise) a failure so the pass goes on."""
        assert self.bounds is not None
        bound = self.bounds.for_leaf(index)
        try:
            check_event_time(ev, bound)
        except VerificationError as exc:
            exc.subject = exc.subject or f"event {index}"
            return exc
        out.times_checked += 1
        if bound is None:
            out.unconfirmed += 1
        return None

    def _times(self, result: EventsPass) -> str:
        if result.time_error is not None:
            raise result.time_error
        if result.unconfirmed:
            self.report.warn(
                f"{result.unconfirmed} event(s) have an unconfirmed time: no checkpoint "
                "covering them has a token yet (pending at the vault)"
            )
        confirmed = result.times_checked - result.unconfirmed
        return (
            f"{confirmed} event(s) sealed no later than the genTime of a token on a checkpoint "
            f"covering them; {result.unconfirmed} unconfirmed; occurred_at never after sealing"
        )

    def _collector(self, result: EventsPass) -> str:
        ingests = {str(ev.item): ev for ev in result.ingests.values()}
        summary, differ = check_collector(result.collector, ingests)
        if differ:
            self.report.warn(
                f"{differ} collected item(s) differ from the hash their collector recorded "
                "(stored as received; see the collector.mismatch events)"
            )
        return summary

    def _chains(self, result: EventsPass) -> str:
        if result.chain_error is not None:
            raise result.chain_error
        items = sum(1 for k in result.chains if k.startswith("item:"))
        return (
            f"{len(result.chains)} chain(s) ({items} item(s) and the case), each linked by "
            "prev from its first event"
        )
