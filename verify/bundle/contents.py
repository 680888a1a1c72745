"""What the sealed records say a bundle must hold, against what it holds.

The `export` event, sealed before the bundle was written, names every artifact and the last
event of every chain; each artifact's ingest event records its size and hashes. These checks
run after the events pass (`checks`), on what it gathered (`EventsPass`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from verify.artifacts import ALGORITHMS, compare_hashes, hash_chunks
from verify.bundle.manifest import ArtifactEntry, BundleManifest, required
from verify.bundle.members import ZIP_ERRORS, Members
from verify.chains import ChainWalk
from verify.errors import (
    ArtifactHashMismatch,
    BundleMemberError,
    ChainBreak,
    MalformedInput,
    MissingEvent,
    UnexpectedEvent,
    VerificationError,
)
from verify.events import Event, chain_key
from verify.manifest import check_ingest_signature
from verify.strict_json import hash_hex
from verify.verifier import about


@dataclass
class ChainState:
    """Where one custody chain stands in the events pass."""

    count: int
    last_index: int
    last_hash: bytes


@dataclass
class EventsPass:
    """What the events pass learned, for the checks that follow it."""

    count: int = 0
    chains: dict[str, ChainState] = field(default_factory=dict)
    #: the prev links, walked as the audit and the report walk them
    walk: ChainWalk = field(default_factory=ChainWalk)
    chain_error: VerificationError | None = None
    export: Event | None = None
    ingests: dict[int, Event] = field(default_factory=dict)
    #: collector.item and collector.mismatch events, for the collector-hash check
    collector: list[tuple[int, Event]] = field(default_factory=list)
    time_error: VerificationError | None = None
    times_checked: int = 0
    unconfirmed: int = 0


def check_export(m: BundleManifest, result: EventsPass) -> str:
    """The sealed export event names every artifact and chain head: the bundle holds those."""
    ev = result.export
    case_key = chain_key(m.case, None)
    with about(f"event {m.export_event}"):
        if ev is None:
            raise MissingEvent("the export event the manifest names is not in the bundle")
        if ev.type != "export" or ev.chain_key != case_key:
            raise MalformedInput(f"it is a {ev.type} event of {ev.chain_key}, not the export")
        body = ev.body
        if body.get("format") != m.format:
            raise MalformedInput(f"the export event is not for a {m.format} bundle")
        if body.get("content") is not m.content:
            raise MalformedInput(
                f"the export event recorded content={body.get('content')!r}, "
                f"the manifest says {m.content!r}"
            )
    case_state = result.chains.get(case_key)
    if case_state is not None and case_state.last_index != m.export_event:
        raise UnexpectedEvent(
            "it follows the export event in the case chain",
            subject=f"event {case_state.last_index}",
        )
    recorded = body.get("artifacts")
    if not isinstance(recorded, list) or not all(isinstance(a, dict) for a in recorded):
        raise MalformedInput("the export event's artifact list is malformed")
    listed = {a.id: a for a in m.artifacts}
    seen: set[str] = set()
    for rec in recorded:
        art_id = str(rec.get("id"))
        seen.add(art_id)
        subject = f"artifact {art_id}"
        if art_id not in listed:
            raise BundleMemberError("the export recorded it; the bundle lacks it", subject=subject)
        if rec.get("sha256") != listed[art_id].hashes["sha256"]:
            raise ArtifactHashMismatch(
                f"the export recorded sha256 {rec.get('sha256')}, the manifest "
                f"{listed[art_id].hashes['sha256']}",
                subject=subject,
            )
    for art_id in sorted(set(listed) - seen):
        raise BundleMemberError(
            "not among the artifacts the export recorded", subject=f"artifact {art_id}"
        )
    heads = body.get("heads")
    if not isinstance(heads, dict):
        raise MalformedInput(
            "the export event records no chain heads", subject=f"event {m.export_event}"
        )
    for key, head in sorted(heads.items()):
        subject = f"chain {key}"
        with about(f"event {m.export_event}"):
            index = required(head, "index", int, f"the export's head of {key}")
            head_hash = hash_hex(head.get("leaf_hash"), f"the export's head hash of {key}")
        state = result.chains.get(key)
        if state is None:
            raise MissingEvent(
                f"the export recorded event {index} as its last; none of its events are here",
                subject=subject,
            )
        if state.last_index < index:
            raise MissingEvent(
                f"ends at event {state.last_index}; the export recorded event {index} as its last",
                subject=subject,
            )
        if state.last_index > index:
            raise UnexpectedEvent(
                f"past event {index}, the last of {key} that the export recorded",
                subject=f"event {state.last_index}",
            )
        if state.last_hash != head_hash:
            raise ChainBreak(
                f"its last event hashes to {state.last_hash.hex()}, the export recorded "
                f"{head_hash.hex()}",
                subject=subject,
            )
    for key in sorted(set(result.chains) - set(heads) - {case_key}):
        raise UnexpectedEvent("a chain the export did not cover", subject=f"chain {key}")
    return (
        f"sealed event {m.export_event} by {ev.actor_id} ({ev.actor_role}) at "
        f"{ev.at.isoformat()}: "
        f"names the {len(listed)} artifact(s) and the last event of each of "
        f"{len(heads) + 1} chain(s)"
    )


# -- artifacts ------------------------------------------------------------------------


def check_artifact(
    m: BundleManifest, members: Members, art: ArtifactEntry, result: EventsPass
) -> str:
    """An artifact's size and hashes against its ingest event, its bytes against both."""
    members.stage = f"artifact {art.id}"
    with about(f"artifact {art.id}"):
        ev = result.ingests.get(art.ingest_index)
        if ev is None:
            raise MissingEvent(f"its ingest event {art.ingest_index} is not in the bundle")
        if ev.type != "ingest" or ev.item != art.id or ev.body.get("artifact") != art.id:
            raise MalformedInput(f"event {art.ingest_index} is not the ingest of {art.id}")
        recorded = ev.body
        for algo in ALGORITHMS:
            if recorded.get(algo) != art.hashes[algo]:
                raise ArtifactHashMismatch(
                    f"the manifest states {algo} {art.hashes[algo]}, the ledger recorded "
                    f"{recorded.get(algo)}"
                )
        if recorded.get("size") != art.size:
            raise ArtifactHashMismatch(
                f"the manifest states {art.size} bytes, the ledger recorded {recorded.get('size')}"
            )
        signed = check_ingest_signature(ev.case, recorded)
        signature = f"; {signed}" if signed else ""
        if art.file is None:
            if m.content:
                raise BundleMemberError("the bundle should carry its bytes but has none")
            return (
                f"not included (proofs only); ledger event {art.ingest_index} recorded "
                f"sha256 {art.hashes['sha256']} ({art.size} bytes){signature}"
            )
        if not m.content:
            raise BundleMemberError("bytes included in a proofs-only bundle", subject=art.file)
        if art.file not in members.infos:
            raise BundleMemberError("its bytes are missing from the zip", subject=art.file)
        if members.infos[art.file].file_size != art.size:
            # Checked before reading: a member claiming terabytes is not read to find out.
            raise ArtifactHashMismatch(
                f"the zip holds {members.infos[art.file].file_size} bytes, the ledger "
                f"recorded {art.size}"
            )
        try:
            actual = hash_chunks(members.chunks(art.file))
        except ZIP_ERRORS as exc:
            raise ArtifactHashMismatch(
                f"its bytes in the zip are damaged or altered ({exc})"
            ) from exc
        detail = compare_hashes(actual, recorded, f"artifact {art.id}")
        if actual["sha256"] != members.digests.get(art.file):
            raise BundleMemberError(
                "its bytes differ from the manifest's SHA-256", subject=art.file
            )
    return (
        f"{art.file_name}: {detail}, sha1 and md5 match ingest event {art.ingest_index}{signature}"
    )
