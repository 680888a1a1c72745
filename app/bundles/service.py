"""Evidence bundles: a case's artifacts, custody events, proofs, checkpoints, tokens and keys
in one zip that `verify.bundle` checks offline (layout: verify/bundle.py).

The export is itself custody: before the first byte leaves, every artifact whose bytes are
included gets an `access` event (reason "export") and the case gets an `export` event naming
each artifact and the last event of each chain the bundle holds. Those events are sealed
first, so the bundle proves its own export and a verifier can tell a bundle with a dropped
chain tail or artifact from a complete one.

The zip is generated while it is sent: members are written through `zipfile` to a sink that
is drained after every chunk, artifacts are STORED (evidence is often already compressed, and
DEFLATE would cost more CPU than it saves), so memory stays flat whatever the artifacts' size.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.artifacts.models import Artifact
from app.artifacts.service import list_artifacts
from app.auth.models import Principal
from app.cases.models import Case
from app.cases.service import readable_case
from app.errors import Unavailable
from app.events import EventType, draft, record
from app.events.artifact_events import Access
from app.events.incident_events import Export, ExportedArtifact, Head
from app.vault import Vault
from custody.ledger import Receipt
from custody.renewal import RenewalIndex, read_renewals
from custody.sequencer import SequencerStopped
from verify.bundle import (
    BUNDLE_FORMAT,
    KEY_HISTORY_MEMBER,
    LOG_KEY_MEMBER,
    MANIFEST,
    artifact_entry,
    artifact_member,
    checkpoint_entry,
    checkpoint_member,
    consistency_member,
    consistency_proof_json,
    event_entry,
    event_member,
    file_entry,
    inclusion_proof_json,
    manifest_json,
    proof_member,
    renewal_member,
    token_entry,
    token_member,
    tsa_chain_member,
    tsa_entry,
    tsa_root_member,
)
from verify.events import chain_key
from verify.renewal import record_json

log = logging.getLogger(__name__)

#: Events per database round trip while streaming; bounds memory for cases of many events.
_PAGE = 500
EXPORT_REASON = "export"


@dataclass(frozen=True)
class ExportPlan:
    case: Case
    who: Principal
    content: bool
    artifacts: list[Artifact]
    #: chain key -> (leaf index, leaf hash) of the last event of each item chain exported
    heads: dict[str, tuple[int, bytes]]
    export: Receipt
    created_at: datetime

    @property
    def anchor(self) -> int:
        """The checkpoint that sealed the export event: every bundled event is proved in it."""
        return self.export.checkpoint.size


def start_export(vault: Vault, who: Principal, case_id: str, content: bool) -> ExportPlan:
    """Record the export (and the accesses it implies); everything that can refuse is here."""
    case = readable_case(vault.engine, case_id, who)
    artifacts = list_artifacts(vault.engine, case_id, who)
    if content and artifacts:
        _record_accesses(vault, who, artifacts)
    case_key = chain_key(case.id, None)
    heads = _chain_heads(vault, case.id, exclude=case_key)
    body = Export(
        format=BUNDLE_FORMAT,
        content=content,
        artifacts=[ExportedArtifact(id=a.id, sha256=a.sha256, size=a.size) for a in artifacts],
        heads={k: Head(index=i, leaf_hash=h.hex()) for k, (i, h) in sorted(heads.items())},
    )
    receipt = record(vault, who, EventType.export, body, case=case.id)
    return ExportPlan(case, who, content, artifacts, heads, receipt, datetime.now(UTC))


def _record_accesses(vault: Vault, who: Principal, artifacts: list[Artifact]) -> None:
    """One `access` per artifact, submitted together so that one seal covers them all."""
    futures: list[Future[Receipt]] = []
    try:
        for art in artifacts:
            # Same body as a download's access event (app.artifacts.service.record_access).
            access = draft(
                who.id,
                who.role,
                EventType.access,
                Access(reason=EXPORT_REASON, sha256=art.sha256),
                case=art.case_id,
                item=art.id,
            )
            futures.append(vault.sequencer.submit(access))
        for fut in futures:
            fut.result(60.0)
    except SequencerStopped as exc:
        raise Unavailable("the vault is shutting down; retry") from exc
    except TimeoutError as exc:
        # Nothing was exported yet; an access sealed late only overstates what was read.
        raise Unavailable("the ledger did not seal the export's accesses in time; retry") from exc


def _chain_heads(vault: Vault, case_id: str, *, exclude: str) -> dict[str, tuple[int, bytes]]:
    """The last event of every chain about the case, but the case chain itself."""
    return vault.ledger.reader.chain_heads(case_id, exclude=exclude)


class _Sink:
    """A write-only, unseekable file for zipfile: it then writes data descriptors instead of
    seeking back, and whatever it wrote is taken out with `drain` and sent."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class _BundleWriter:
    def __init__(self, zf: zipfile.ZipFile, when: datetime) -> None:
        self.zf = zf
        self.date_time = when.astimezone(UTC).timetuple()[:6]
        self.files: list[dict[str, Any]] = []

    def info(self, name: str, compress: int) -> zipfile.ZipInfo:
        zinfo = zipfile.ZipInfo(name, self.date_time)
        zinfo.compress_type = compress
        zinfo.external_attr = 0o100444 << 16  # a regular, read-only file once extracted
        return zinfo

    def put(self, name: str, data: bytes) -> None:
        self.zf.writestr(self.info(name, zipfile.ZIP_DEFLATED), data)
        self.note(name, hashlib.sha256(data).hexdigest(), len(data))

    def note(self, name: str, sha256: str, size: int) -> None:
        self.files.append(file_entry(name, sha256, size))


def _pem(certs: tuple[bytes, ...] | list[bytes]) -> bytes:
    return b"".join(x509.load_der_x509_certificate(c).public_bytes(Encoding.PEM) for c in certs)


def _json(doc: Any) -> bytes:
    return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def stream_bundle(vault: Vault, plan: ExportPlan) -> Iterator[bytes]:
    """The zip, in pieces of at most about one store chunk."""
    # Skip empty pieces: an empty chunk is how chunked transfer encoding ends a body.
    return (piece for piece in _zip_pieces(vault, plan) if piece)


def _zip_pieces(vault: Vault, plan: ExportPlan) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
        w = _BundleWriter(zf, plan.created_at)
        w.put(LOG_KEY_MEMBER, (vault.ledger.log_key + "\n").encode())
        # The hand-overs sealed in the ledger, so that auditors pinning the first log key
        # follow a rotation without fetching the history themselves.
        history = vault.keyring.history
        if history:
            w.put(KEY_HISTORY_MEMBER, _json([h.to_json() for h in history]))
        tsas: dict[str, dict[str, Any]] = {}
        for tsa in vault.authorities:
            root = tsa_root_member(tsa.name)
            w.put(root, _pem(list(tsa.trust_roots())))
            tsas[tsa.name] = tsa_entry(
                tsa.name, root, vault.settings.builtin_tsa and tsa is vault.keyring.tsa
            )
        yield sink.drain()

        events: list[dict[str, Any]] = []
        for page in _event_pages(vault, plan):
            for entry, canonical, proof in page:
                w.put(event_member(entry["index"]), canonical)
                w.put(
                    proof_member(entry["index"]),
                    _json(inclusion_proof_json(entry["index"], plan.anchor, proof)),
                )
                events.append(entry)
            yield sink.drain()

        sizes = sorted({e["sealed_in"] for e in events} | {plan.anchor})
        checkpoints: list[dict[str, Any]] = []
        renewals = RenewalIndex(read_renewals(vault.store))
        chains: dict[tuple[str, tuple[bytes, ...]], str] = {}
        for size in sizes:
            cp = vault.ledger.checkpoint(size)
            w.put(checkpoint_member(size), cp.cosigned_note)
            stamps = []
            for t in cp.timestamps:
                w.put(token_member(size, t.tsa), t.tsr_der)
                chain_name = chains.get((t.tsa, t.chain_der))
                if chain_name is None:
                    n = sum(1 for k in chains if k[0] == t.tsa)
                    chain_name = tsa_chain_member(t.tsa, n + 1)
                    w.put(chain_name, _pem(t.chain_der))
                    chains[(t.tsa, t.chain_der)] = chain_name
                tsas.setdefault(t.tsa, tsa_entry(t.tsa, None, False))
                record = renewals.record(t.tsr_der)
                renewal = None
                if record is not None:
                    renewal = renewal_member(size, t.tsa)
                    w.put(renewal, _json(record_json(record.covers, record.renewals)))
                stamps.append(token_entry(t.tsa, chain_name, renewal))
            checkpoints.append(checkpoint_entry(size, stamps, cp.tokens_pending))
            yield sink.drain()
        for a, b in zip(sizes, sizes[1:], strict=False):
            proof = vault.ledger.consistency(a, b)
            w.put(consistency_member(a, b), _json(consistency_proof_json(a, b, proof)))
        yield sink.drain()

        artifacts: list[dict[str, Any]] = []
        for art in plan.artifacts:
            member = artifact_member(art.id, art.file_name) if plan.content else None
            if member is not None:
                yield from _stream_artifact(vault, w, sink, art, member)
            assert art.ingest_index is not None  # list_artifacts returns sealed ones only
            artifacts.append(
                artifact_entry(
                    id=art.id,
                    ingest_index=art.ingest_index,
                    file_name=art.file_name,
                    media_type=art.media_type,
                    size=art.size,
                    sha256=art.sha256,
                    sha1=art.sha1,
                    md5=art.md5,
                    file=member,
                )
            )

        manifest = manifest_json(
            case=plan.case.id,
            title=plan.case.title,
            origin=vault.ledger.origin,
            log_key=vault.ledger.log_key,
            created_at=plan.created_at,
            exported_by=(plan.who.id, plan.who.role),
            content=plan.content,
            export_event=plan.export.event.index,
            anchor=plan.anchor,
            events=events,
            checkpoints=checkpoints,
            artifacts=artifacts,
            tsas=list(tsas.values()),
            files=w.files,
            key_history=KEY_HISTORY_MEMBER if history else None,
        )
        # Not listed in its own `files`: nothing can hold its own digest.
        zf.writestr(w.info(MANIFEST, zipfile.ZIP_DEFLATED), _json(manifest))
    yield sink.drain()


def _event_pages(
    vault: Vault, plan: ExportPlan
) -> Iterator[list[tuple[dict[str, Any], bytes, list[bytes]]]]:
    """The bundled events in ledger order with their proofs against the anchor, a page at a
    time: the case chain up to the export event, each item chain up to its recorded head."""
    case_key = chain_key(plan.case.id, None)
    export_index = plan.export.event.index
    after = -1
    while True:
        rows = vault.ledger.reader.case_events_proved(
            plan.case.id, after=after, below=export_index + 1, tree_size=plan.anchor, limit=_PAGE
        )
        if not rows:
            return
        page = []
        for ev, proof in rows:
            head = plan.heads.get(ev.chain_key)
            if ev.chain_key != case_key and (head is None or ev.index > head[0]):
                continue  # sealed after the export took its snapshot of this chain
            entry = event_entry(ev.index, ev.chain_key, ev.type, ev.sealed_in)
            page.append((entry, ev.canonical, proof))
        after = rows[-1][0].index
        yield page


def _stream_artifact(
    vault: Vault, w: _BundleWriter, sink: _Sink, art: Artifact, member: str
) -> Iterator[bytes]:
    zinfo = w.info(member, zipfile.ZIP_STORED)
    zinfo.file_size = art.size
    digest = hashlib.sha256()
    size = 0
    with w.zf.open(zinfo, "w", force_zip64=True) as out:
        for chunk in vault.store.open_range(art.object_key):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
            yield sink.drain()
    if digest.hexdigest() != art.sha256 or size != art.size:
        # Cut the stream: a bundle carrying bytes the ledger does not vouch for must not
        # arrive whole (the verifier would reject it, but nobody should have to find out).
        log.error("integrity failure: %s hashed %s on export", art.id, digest.hexdigest())
        raise RuntimeError(f"stored bytes of {art.id} no longer match their SHA-256")
    w.note(member, digest.hexdigest(), size)
