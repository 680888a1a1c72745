"""Offline verification of an evidence bundle (`locard-bundle/1`): no database, no network.

A bundle is the zip that `GET /v1/cases/{case}/bundle` (`locard export`) streams:

    manifest.json                          table of contents, written last
    keys/log.vkey                          the vault's checkpoint key (C2SP vkey)
    keys/tsa/<tsa>-root.pem                each TSA's root as the vault publishes it
    keys/tsa/<tsa>-chain[-n].pem           the certificate chains the tokens were issued under
    events/<index>.json                    every custody event of the case: its exact leaf bytes
    proofs/<index>.json                    its inclusion proof against the anchor checkpoint
    checkpoints/<size>.note                each checkpoint that first sealed a case event; the
    checkpoints/<size>.<tsa>.tsr           last one (it sealed the export) is the anchor
    consistency/<a>-<b>.json               consistency proofs chaining those checkpoints
    artifacts/<artifact id>/<file name>    the evidence bytes (absent for a proofs-only export)

The manifest is not signed, so it is trusted for nothing but finding members: every claim is
re-derived from the signed checkpoints (inclusion, consistency, tokens), the hashes the ledger
recorded (artifacts) and the `export` event, which the vault sealed before writing the bundle
and which names each artifact and the last event of each chain the bundle must hold. That is
what makes a removed chain tail, a dropped artifact or an added event visible.

Members are read one at a time and artifacts are hashed in chunks, so memory does not grow
with artifact size; per event only a few hashes per chain are kept.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from verify.artifacts import ALGORITHMS, compare_hashes, hash_chunks
from verify.checkpoint import Checkpoint
from verify.errors import (
    ArtifactHashMismatch,
    BundleMemberError,
    ChainBreak,
    CheckpointFormatError,
    ConsistencyProofError,
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
from verify.events import Event, chain_key, decode_event
from verify.manifest import check_ingest_signature
from verify.merkle import verify_consistency, verify_inclusion
from verify.note import NoteVerifier
from verify.receipt import (
    Report,
    TimestampEvidence,
    VerificationPolicy,
    Verifier,
    key_label,
    load_strict_json,
)
from verify.times import CheckpointBounds, check_event_time, tightest_bound
from verify.timestamp import TimestampInfo, load_pem_or_der_certs

BUNDLE_FORMAT = "locard-bundle/1"
MANIFEST = "manifest.json"
LOG_KEY_MEMBER = "keys/log.vkey"
#: The manifest is parsed whole, and Python's JSON objects take up to ~25 times their text
#: (tests/bundles/test_robustness.py measures it), so it is capped: at ~350 bytes per event
#: (its entry and its two members' digests) 8 MiB holds a case of ~20,000 events.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
#: Events are canonical JSON of a few KB; the export event, which lists every artifact and
#: chain head of the case, is the largest. Anything bigger is hostile.
MAX_SMALL_MEMBER = 4 * 1024 * 1024
_KIB = 1024
#: Proofs hold at most 2·64 hashes; notes, tokens, keys and certificates are kilobytes.
_MEMBER_LIMITS = (
    ("events/", MAX_SMALL_MEMBER),
    ("proofs/", 64 * _KIB),
    ("consistency/", 64 * _KIB),
    ("checkpoints/", 64 * _KIB),
    ("keys/", 256 * _KIB),
)
_CHUNK = 1 << 20
_HASH_HEX = re.compile(r"[0-9a-f]{64}")
_HEX = {"sha256": 64, "sha1": 40, "md5": 32}

#: progress(done, total, stage): bytes of bundle members checked so far, of all of them.
ProgressFn = Callable[[int, int, str], None]


# -- layout, shared with the exporter ------------------------------------------------------


def safe_component(name: str) -> str:
    """One path component that every unzip tool extracts in place (no '/', '..', controls)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "._-+()[] " else "_" for ch in name).strip()
    cleaned = cleaned.lstrip(".")  # '..' and hidden files
    return (cleaned or "_")[:120]


def event_member(index: int) -> str:
    return f"events/{index}.json"


def proof_member(index: int) -> str:
    return f"proofs/{index}.json"


def checkpoint_member(size: int) -> str:
    return f"checkpoints/{size}.note"


def token_member(size: int, tsa: str) -> str:
    return f"checkpoints/{size}.{safe_component(tsa)}.tsr"


def consistency_member(first: int, second: int) -> str:
    return f"consistency/{first}-{second}.json"


def artifact_member(artifact_id: str, file_name: str) -> str:
    return f"artifacts/{safe_component(artifact_id)}/{safe_component(file_name)}"


def tsa_root_member(tsa: str) -> str:
    return f"keys/tsa/{safe_component(tsa)}-root.pem"


def tsa_chain_member(tsa: str, n: int = 1) -> str:
    """The n-th distinct certificate chain of a TSA's tokens (a TSA may renew its certificate)."""
    suffix = f"-{n}" if n > 1 else ""
    return f"keys/tsa/{safe_component(tsa)}-chain{suffix}.pem"


def is_tsa_chain_member(name: str, tsa: str) -> bool:
    prefix = tsa_chain_member(tsa)[: -len(".pem")]
    return name == f"{prefix}.pem" or bool(
        name.startswith(f"{prefix}-")
        and name.endswith(".pem")
        and re.fullmatch(r"[2-9]|[1-9][0-9]{1,5}", name[len(prefix) + 1 : -len(".pem")])
    )


def member_limit(name: str) -> int:
    """The largest a genuine member of this name's kind can be (artifacts are streamed)."""
    for prefix, limit in _MEMBER_LIMITS:
        if name.startswith(prefix):
            return limit
    return MAX_SMALL_MEMBER


def check_layout(m: BundleManifest) -> None:
    """Every member name the manifest gives is the one the layout prescribes.

    Raises BundleMemberError: a free-form name could point outside the layout (an extract
    path like `../x`), or shadow another member's role.
    """
    for tsa in m.tsas:
        if tsa.root is not None and tsa.root != tsa_root_member(tsa.name):
            raise BundleMemberError(
                f"the root of TSA {tsa.name[:64]!r} must be {tsa_root_member(tsa.name)}",
                subject=tsa.root[:200],
            )
    for c in m.checkpoints:
        for t in c.timestamps:
            if not is_tsa_chain_member(t.chain, t.tsa):
                raise BundleMemberError(
                    f"a certificate chain of TSA {t.tsa[:64]!r} must be named like "
                    f"{tsa_chain_member(t.tsa)}",
                    subject=t.chain[:200],
                )
    for art in m.artifacts:
        if art.file is not None and art.file != artifact_member(art.id, art.file_name):
            raise BundleMemberError(
                f"the bytes of artifact {art.id[:64]!r} must be "
                f"{artifact_member(art.id, art.file_name)}",
                subject=art.file[:200],
            )


# -- the manifest --------------------------------------------------------------------------


@dataclass(frozen=True)
class EventEntry:
    index: int
    chain: str
    type: str
    sealed_in: int


@dataclass(frozen=True)
class TokenEntry:
    tsa: str
    chain: str  # member holding the certificate chain (TSA certificate ... root), PEM


@dataclass(frozen=True)
class CheckpointEntry:
    size: int
    timestamps: tuple[TokenEntry, ...]
    timestamps_pending: int


@dataclass(frozen=True)
class ArtifactEntry:
    id: str
    ingest_index: int
    file_name: str
    size: int
    hashes: dict[str, str]
    file: str | None


@dataclass(frozen=True)
class TsaEntry:
    name: str
    root: str | None
    self_operated: bool


@dataclass(frozen=True)
class BundleManifest:
    case: str
    origin: str
    log_key: str
    created_at: str
    exported_by: str
    content: bool
    export_event: int
    anchor: int
    events: tuple[EventEntry, ...]
    checkpoints: tuple[CheckpointEntry, ...]
    artifacts: tuple[ArtifactEntry, ...]
    tsas: tuple[TsaEntry, ...]
    files: dict[str, str]  # member -> SHA-256 hex


def _get(doc: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(doc, dict) or name not in doc:
        raise MalformedInput(f"{where} lacks '{name}'")
    value = doc[name]
    # bool is an int subclass: `true` must not pass as an index.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedInput(f"{where}: '{name}' must be {kind.__name__}")
    if isinstance(value, int) and value < 0:
        raise MalformedInput(f"{where}: '{name}' is negative")
    return value


def _hash_hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HASH_HEX.fullmatch(value):
        raise MalformedInput(f"{what} is not a SHA-256 hash in 64 lowercase hex digits")
    return bytes.fromhex(value)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            # Readers disagree on which duplicate wins: two auditors could see two bundles.
            raise MalformedInput(f"duplicate JSON key {key[:64]!r} in the manifest")
        doc[key] = value
    return doc


def _no_constant(name: str) -> Any:
    raise MalformedInput(f"{name} is not a JSON number")


def parse_manifest(data: bytes) -> BundleManifest:
    """Decode `manifest.json`; MalformedInput unless it is a well-formed locard-bundle/1."""
    try:
        doc = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constant,
        )
    except UnicodeDecodeError as exc:
        raise MalformedInput("manifest is not UTF-8") from exc
    except RecursionError as exc:
        raise MalformedInput("manifest JSON is nested too deeply") from exc
    except ValueError as exc:
        raise MalformedInput(f"manifest is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise MalformedInput(f"not a {BUNDLE_FORMAT} bundle (format is {str(found)[:64]!r})")
    events = tuple(
        EventEntry(
            index=_get(e, "index", int, f"events[{i}]"),
            chain=_get(e, "chain", str, f"events[{i}]"),
            type=_get(e, "type", str, f"events[{i}]"),
            sealed_in=_get(e, "sealed_in", int, f"events[{i}]"),
        )
        for i, e in enumerate(_get(doc, "events", list, "manifest"))
    )
    checkpoints = tuple(
        CheckpointEntry(
            size=_get(c, "size", int, f"checkpoints[{i}]"),
            timestamps=tuple(
                TokenEntry(
                    tsa=_get(t, "tsa", str, f"checkpoints[{i}].timestamps[{j}]"),
                    chain=_get(t, "chain", str, f"checkpoints[{i}].timestamps[{j}]"),
                )
                for j, t in enumerate(_get(c, "timestamps", list, f"checkpoints[{i}]"))
            ),
            timestamps_pending=_get(c, "timestamps_pending", int, f"checkpoints[{i}]"),
        )
        for i, c in enumerate(_get(doc, "checkpoints", list, "manifest"))
    )
    artifacts = []
    for i, a in enumerate(_get(doc, "artifacts", list, "manifest")):
        where = f"artifacts[{i}]"
        file = a.get("file") if isinstance(a, dict) else None
        if file is not None and not isinstance(file, str):
            raise MalformedInput(f"{where}: 'file' must be a member name or null")
        hashes = {}
        for algo in ALGORITHMS:
            value = _get(a, algo, str, where)
            if not re.fullmatch(f"[0-9a-f]{{{_HEX[algo]}}}", value):
                raise MalformedInput(f"{where}: '{algo}' is not lowercase hex of the right length")
            hashes[algo] = value
        artifacts.append(
            ArtifactEntry(
                id=_get(a, "id", str, where),
                ingest_index=_get(a, "ingest_index", int, where),
                file_name=_get(a, "file_name", str, where),
                size=_get(a, "size", int, where),
                hashes=hashes,
                file=file,
            )
        )
    tsas = []
    for i, t in enumerate(_get(doc, "tsas", list, "manifest")):
        root = t.get("root") if isinstance(t, dict) else None
        if root is not None and not isinstance(root, str):
            raise MalformedInput(f"tsas[{i}]: 'root' must be a member name or null")
        tsas.append(
            TsaEntry(
                name=_get(t, "name", str, f"tsas[{i}]"),
                root=root,
                self_operated=bool(_get(t, "self_operated", bool, f"tsas[{i}]")),
            )
        )
    files: dict[str, str] = {}
    for i, f in enumerate(_get(doc, "files", list, "manifest")):
        name = _get(f, "name", str, f"files[{i}]")
        if name in files or name == MANIFEST:
            raise MalformedInput(f"files[{i}]: {name!r} is listed twice")
        files[name] = _hash_hex(_get(f, "sha256", str, f"files[{i}]"), f"files[{i}].sha256").hex()
    exported = _get(doc, "exported_by", dict, "manifest")
    return BundleManifest(
        case=_get(doc, "case", str, "manifest"),
        origin=_get(doc, "origin", str, "manifest"),
        log_key=_get(doc, "log_key", str, "manifest"),
        created_at=_get(doc, "created_at", str, "manifest"),
        exported_by=f"{_get(exported, 'id', str, 'exported_by')} "
        f"({_get(exported, 'role', str, 'exported_by')})",
        content=bool(_get(doc, "content", bool, "manifest")),
        export_event=_get(doc, "export_event", int, "manifest"),
        anchor=_get(doc, "anchor", int, "manifest"),
        events=events,
        checkpoints=checkpoints,
        artifacts=tuple(artifacts),
        tsas=tuple(tsas),
        files=files,
    )


def expected_members(m: BundleManifest) -> set[str]:
    """Every member the manifest's structure implies; anything else in the zip is extra."""
    names = {LOG_KEY_MEMBER}
    for tsa in m.tsas:
        if tsa.root is not None:
            names.add(tsa.root)
    sizes = [c.size for c in m.checkpoints]
    for c in m.checkpoints:
        names.add(checkpoint_member(c.size))
        for t in c.timestamps:
            names.add(token_member(c.size, t.tsa))
            names.add(t.chain)
    for a, b in zip(sizes, sizes[1:], strict=False):
        names.add(consistency_member(a, b))
    for e in m.events:
        names.add(event_member(e.index))
        names.add(proof_member(e.index))
    for art in m.artifacts:
        if art.file is not None:
            names.add(art.file)
    return names


# -- reading members -----------------------------------------------------------------------


@contextmanager
def _about(subject: str) -> Iterator[None]:
    """Name the item a failure is about, unless a deeper check already did."""
    try:
        yield
    except VerificationError as exc:
        if exc.subject is None:
            exc.subject = subject
        raise


# What zipfile raises for a damaged member: bad headers or CRC, corrupt deflate data,
# an unsupported compression method or encryption, a truncated file.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError)


class _Members:
    def __init__(self, zf: zipfile.ZipFile, progress: ProgressFn | None) -> None:
        self.zf = zf
        self.progress = progress
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            if info.filename in self.infos:
                # zipfile would silently read the last one; another tool, the first.
                raise BundleMemberError("the zip holds this member twice", subject=info.filename)
            self.infos[info.filename] = info
        self.total = sum(i.file_size for i in self.infos.values())
        self.done = 0
        self.digests: dict[str, str] = {}
        self.stage = "bundle"

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total, self.stage)

    def read(
        self,
        name: str,
        limit: int | None = None,
        *,
        missing: VerificationError | None = None,
        count: bool = True,
    ) -> bytes:
        """A whole small member, checked against the manifest's SHA-256."""
        limit = member_limit(name) if limit is None else limit
        info = self.infos.get(name)
        if info is None:
            raise missing or BundleMemberError(
                "listed by the manifest but not in the zip", subject=name
            )
        expected = self.digests.get(name)
        if expected is None:
            raise BundleMemberError("the manifest gives no SHA-256 for this member", subject=name)
        if info.file_size > limit:
            # Refused unread: a few KB of deflate can claim (and hold) gigabytes.
            raise MemberTooLarge(
                f"{info.file_size} bytes, more than the {limit} a member of its kind may have",
                subject=name,
            )
        try:
            with self.zf.open(info) as fh:
                data = fh.read(limit + 1)
        except _ZIP_ERRORS as exc:
            raise BundleMemberError(f"unreadable: {exc}", subject=name) from exc
        if len(data) > limit:
            raise MemberTooLarge(f"more than {limit} bytes", subject=name)
        if hashlib.sha256(data).hexdigest() != expected:
            raise BundleMemberError("its bytes differ from the manifest's SHA-256", subject=name)
        if count:
            self.advance(info.file_size)
        return data

    def chunks(self, name: str) -> Iterator[bytes]:
        """A large member in chunks (zipfile checks its CRC-32 at the end)."""
        with self.zf.open(self.infos[name]) as fh:
            while block := fh.read(_CHUNK):
                self.advance(len(block))
                yield block


# -- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Proof:
    tree_size: int
    hashes: tuple[bytes, ...]


@dataclass
class _ChainState:
    count: int
    last_index: int
    last_hash: bytes


@dataclass
class _EventsPass:
    count: int = 0
    chains: dict[str, _ChainState] = field(default_factory=dict)
    chain_error: VerificationError | None = None
    export: Event | None = None
    ingests: dict[int, Event] = field(default_factory=dict)
    time_error: VerificationError | None = None
    times_checked: int = 0
    unconfirmed: int = 0


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

    def _open() -> tuple[_Members, str]:
        try:
            holder["zf"] = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise MalformedInput(f"{path} is not a readable zip: {exc}") from exc
        members = _Members(holder["zf"], progress)
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
    def __init__(self, verifier: Verifier, report: Report, members: _Members) -> None:
        self.v = verifier
        self.report = report
        self.members = members
        self.manifest: BundleManifest | None = None
        self.checkpoints: dict[int, Checkpoint] = {}
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
        # Tokens and history are independent of each event's inclusion: report all three.
        r.run("timestamps", self._timestamps)
        r.run("consistency", self._consistency)
        result = r.step("event inclusion", self._events)
        if result is None:
            return
        r.run("custody chains", lambda: self._chains(result))
        if self.bounds is not None:
            r.run("event times", lambda: self._times(result))
        r.run("export record", lambda: self._export(result))
        for art in self.m.artifacts:
            r.run(f"artifact {art.id}", functools.partial(self._artifact, art, result))

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
        except _ZIP_ERRORS as exc:
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

    def _log_key(self) -> tuple[NoteVerifier, str]:
        self.members.stage = "keys"
        with _about(LOG_KEY_MEMBER):
            vkey = self.members.read(LOG_KEY_MEMBER).decode("utf-8", "replace").strip()
            if vkey != self.m.log_key:
                raise KeyMismatch("the manifest names another log key than keys/log.vkey")
            key = self.v.log_verifier(vkey, self.report)
        pinned = "pinned" if self.v.policy.trusted_log_keys else "NOT pinned"
        return key, f"{key_label(key)} ({pinned})"

    def _checkpoints(self, key: NoteVerifier) -> str:
        self.members.stage = "checkpoints"
        for entry in self.m.checkpoints:
            with _about(f"checkpoint {entry.size}"):
                note = self.members.read(checkpoint_member(entry.size))
                cp = self.v.check_checkpoint(note, key, self.m.origin)
                if cp.size != entry.size:
                    raise CheckpointFormatError(f"the note is the checkpoint of size {cp.size}")
                self.checkpoints[cp.size] = cp
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
                with _about(tsa.root):
                    load_pem_or_der_certs(self.members.read(tsa.root))
        tokens = 0
        times: list[datetime] = []
        by: set[str] = set()
        bounds: dict[int, TimestampInfo | None] = {}
        for entry in self.m.checkpoints:
            subject = f"checkpoint {entry.size}"
            stamps = []
            with _about(subject):
                for t in entry.timestamps:
                    if t.chain not in chains:
                        chains[t.chain] = tuple(load_pem_or_der_certs(self.members.read(t.chain)))
                    token = self.members.read(token_member(entry.size, t.tsa))
                    stamps.append(TimestampEvidence(t.tsa, token, chains[t.chain]))
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
                raise failed.error
            bounds[entry.size] = tightest_bound(infos)
            tokens += len(infos)
            times.extend(i.gen_time for i in infos)
            by.update(s.tsa for s in stamps)
        self.bounds = CheckpointBounds(bounds)
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
            with _about(f"consistency {a}→{b}"):
                doc = load_strict_json(
                    self.members.read(consistency_member(a, b)), "consistency proof"
                )
                if _get(doc, "first", int, "proof") != a or _get(doc, "second", int, "proof") != b:
                    raise ConsistencyProofError(
                        f"the file holds a proof for other sizes than {a}→{b}"
                    )
                proof = [
                    _hash_hex(h, "consistency proof hash")
                    for h in _get(doc, "proof", list, "proof")
                ]
                verify_consistency(a, b, proof, self.checkpoints[a].root, self.checkpoints[b].root)
        if len(sizes) == 1:
            return f"one checkpoint ({sizes[0]}): nothing to chain"
        return f"{len(sizes) - 1} proof(s) chain checkpoint {sizes[0]} to {sizes[-1]}: append-only"

    # -- events ---------------------------------------------------------------------------

    def _proof(self, index: int, *, count: bool = True) -> _Proof:
        doc = load_strict_json(
            self.members.read(
                proof_member(index),
                missing=MissingEvent("its inclusion proof is missing"),
                count=count,
            ),
            "inclusion proof",
        )
        if _get(doc, "leaf_index", int, "proof") != index:
            raise InclusionProofError(f"{proof_member(index)} is the proof of another leaf")
        return _Proof(
            tree_size=_get(doc, "tree_size", int, "proof"),
            hashes=tuple(
                _hash_hex(h, "inclusion proof hash")
                for h in _get(doc, "inclusion_proof", list, "proof")
            ),
        )

    def _events(self) -> tuple[_EventsPass, str]:
        self.members.stage = "events"
        m = self.m
        anchor = self.checkpoints[m.anchor]
        wanted_ingests = {a.ingest_index for a in m.artifacts}
        out = _EventsPass()
        previous = -1
        for entry in m.events:
            i = entry.index
            with _about(f"event {i}"):
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
                out.chain_error = self._link(out, ev, i)
            if self.bounds is not None and out.time_error is None:
                out.time_error = self._time(out, ev, i)
            state = out.chains.get(ev.chain_key)
            if state is None:
                out.chains[ev.chain_key] = _ChainState(1, i, ev.leaf_hash)
            else:
                state.count, state.last_index, state.last_hash = state.count + 1, i, ev.leaf_hash
            if i == m.export_event:
                out.export = ev
            if i in wanted_ingests:
                out.ingests[i] = ev
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

    @staticmethod
    def _link(out: _EventsPass, ev: Event, index: int) -> VerificationError | None:
        """Check `prev`; return (not raise) a failure so inclusion of the rest still runs."""
        state = out.chains.get(ev.chain_key)
        subject = f"event {index}"
        if state is None:
            if ev.prev is not None:
                return MissingEvent(
                    f"it is the first event of {ev.chain_key} in the bundle, but its prev "
                    f"{ev.prev.hex()} names an earlier one that is missing",
                    subject=subject,
                )
            return None
        if ev.prev is None:
            return ChainBreak(
                f"it restarts {ev.chain_key} (prev is null) after event {state.last_index}",
                subject=subject,
            )
        if ev.prev != state.last_hash:
            return MissingEvent(
                f"its prev {ev.prev.hex()} is not event {state.last_index}, the previous event "
                f"of {ev.chain_key} in the bundle: an event between them is missing",
                subject=subject,
            )
        return None

    def _time(self, out: _EventsPass, ev: Event, index: int) -> VerificationError | None:
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

    def _times(self, result: _EventsPass) -> str:
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

    def _chains(self, result: _EventsPass) -> str:
        if result.chain_error is not None:
            raise result.chain_error
        items = sum(1 for k in result.chains if k.startswith("item:"))
        return (
            f"{len(result.chains)} chain(s) ({items} item(s) and the case), each linked by "
            "prev from its first event"
        )

    def _export(self, result: _EventsPass) -> str:
        m = self.m
        ev = result.export
        case_key = chain_key(m.case, None)
        with _about(f"event {m.export_event}"):
            if ev is None:
                raise MissingEvent("the export event the manifest names is not in the bundle")
            if ev.type != "export" or ev.chain_key != case_key:
                raise MalformedInput(f"it is a {ev.type} event of {ev.chain_key}, not the export")
            body = ev.body
            if body.get("format") != BUNDLE_FORMAT:
                raise MalformedInput(f"the export event is not for a {BUNDLE_FORMAT} bundle")
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
                raise BundleMemberError(
                    "the export recorded it; the bundle lacks it", subject=subject
                )
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
            with _about(f"event {m.export_event}"):
                index = _get(head, "index", int, f"the export's head of {key}")
                head_hash = _hash_hex(head.get("leaf_hash"), f"the export's head hash of {key}")
            state = result.chains.get(key)
            if state is None:
                raise MissingEvent(
                    f"the export recorded event {index} as its last; none of its events are here",
                    subject=subject,
                )
            if state.last_index < index:
                raise MissingEvent(
                    f"ends at event {state.last_index}; the export recorded event {index} "
                    "as its last",
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

    def _artifact(self, art: ArtifactEntry, result: _EventsPass) -> str:
        m = self.m
        self.members.stage = f"artifact {art.id}"
        with _about(f"artifact {art.id}"):
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
                    f"the manifest states {art.size} bytes, the ledger recorded "
                    f"{recorded.get('size')}"
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
            if art.file not in self.members.infos:
                raise BundleMemberError("its bytes are missing from the zip", subject=art.file)
            if self.members.infos[art.file].file_size != art.size:
                # Checked before reading: a member claiming terabytes is not read to find out.
                raise ArtifactHashMismatch(
                    f"the zip holds {self.members.infos[art.file].file_size} bytes, the ledger "
                    f"recorded {art.size}"
                )
            try:
                actual = hash_chunks(self.members.chunks(art.file))
            except _ZIP_ERRORS as exc:
                raise ArtifactHashMismatch(
                    f"its bytes in the zip are damaged or altered ({exc})"
                ) from exc
            detail = compare_hashes(actual, recorded, f"artifact {art.id}")
            if actual["sha256"] != self.members.digests.get(art.file):
                raise BundleMemberError(
                    "its bytes differ from the manifest's SHA-256", subject=art.file
                )
        return (
            f"{art.file_name}: {detail}, sha1 and md5 match ingest event "
            f"{art.ingest_index}{signature}"
        )
