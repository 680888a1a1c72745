"""The bundle manifest wire format, `locard-bundle/3`: its fields, parser and structure rules.

`/2` adds `key_history`: the member holding the log key's signed hand-overs, so a bundle
sealed across a key rotation verifies against the key auditors pinned at the start.
`/3` adds `renewal` to a checkpoint token: the member holding its evidence record (its
archive timestamp chain, `verify.renewal`), so the token verifies after its TSA
certificate expired. `/1` and `/2` bundles are read as before.

The manifest is not signed, so it is trusted for nothing but finding members: every claim is
re-derived from the signed checkpoints, the ledger's hashes and the sealed export event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from verify.artifacts import ALGORITHMS
from verify.bundle.layout import (
    KEY_HISTORY_MEMBER,
    LOG_KEY_MEMBER,
    MANIFEST,
    artifact_member,
    checkpoint_member,
    consistency_member,
    event_member,
    is_tsa_chain_member,
    proof_member,
    renewal_member,
    token_member,
    tsa_chain_member,
    tsa_root_member,
)
from verify.errors import BundleMemberError, MalformedInput
from verify.strict_json import hash_hex, load_strict_json

BUNDLE_FORMAT = "locard-bundle/3"
#: every format this release reads, oldest first
BUNDLE_FORMATS = ("locard-bundle/1", "locard-bundle/2", BUNDLE_FORMAT)
#: The manifest is parsed whole, and Python's JSON objects take up to ~25 times their text
#: (tests/bundles/test_robustness.py measures it), so it is capped: at ~350 bytes per event
#: (its entry and its two members' digests) 8 MiB holds a case of ~20,000 events.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
_HEX = {"sha256": 64, "sha1": 40, "md5": 32}


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
    #: member holding the token's evidence record (`/3`, only once it was renewed)
    renewal: str | None = None


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
    format: str
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
    #: the key history member (`/2`, only when the log key was ever rotated)
    key_history: str | None = None


# -- writing (app.bundles builds the manifest with these, so the shapes are defined once) ---


def event_entry(index: int, chain: str, type: str, sealed_in: int) -> dict[str, Any]:
    """An `events[]` element: the event's leaf index, chain key, type and sealing checkpoint."""
    return {"index": index, "chain": chain, "type": type, "sealed_in": sealed_in}


def token_entry(tsa: str, chain: str, renewal: str | None = None) -> dict[str, Any]:
    """A `checkpoints[].timestamps[]` element: the TSA, the member holding its chain, and
    the one holding its renewals (when it has any)."""
    entry = {"tsa": tsa, "chain": chain}
    if renewal is not None:
        entry["renewal"] = renewal
    return entry


def checkpoint_entry(
    size: int, timestamps: Sequence[dict[str, Any]], timestamps_pending: int
) -> dict[str, Any]:
    return {"size": size, "timestamps": list(timestamps), "timestamps_pending": timestamps_pending}


def artifact_entry(
    *,
    id: str,
    ingest_index: int,
    file_name: str,
    media_type: str | None,
    size: int,
    sha256: str,
    sha1: str,
    md5: str,
    file: str | None,
) -> dict[str, Any]:
    """An `artifacts[]` element; `file` is its member, None in a proofs-only bundle."""
    return {
        "id": id,
        "ingest_index": ingest_index,
        "file_name": file_name,
        "media_type": media_type,
        "size": size,
        "sha256": sha256,
        "sha1": sha1,
        "md5": md5,
        "file": file,
    }


def tsa_entry(name: str, root: str | None, self_operated: bool) -> dict[str, Any]:
    return {"name": name, "root": root, "self_operated": self_operated}


def file_entry(name: str, sha256: str, size: int) -> dict[str, Any]:
    """A `files[]` element: every member but the manifest, with its SHA-256 and size."""
    return {"name": name, "sha256": sha256, "size": size}


def manifest_json(
    *,
    case: str,
    title: str,
    origin: str,
    log_key: str,
    created_at: datetime,
    exported_by: tuple[str, str],
    content: bool,
    export_event: int,
    anchor: int,
    events: Sequence[dict[str, Any]],
    checkpoints: Sequence[dict[str, Any]],
    artifacts: Sequence[dict[str, Any]],
    tsas: Sequence[dict[str, Any]],
    files: Sequence[dict[str, Any]],
    key_history: str | None = None,
) -> dict[str, Any]:
    """The `locard-bundle/3` manifest; `exported_by` is (principal id, role)."""
    return {
        "format": BUNDLE_FORMAT,
        "case": case,
        "title": title,
        "origin": origin,
        "log_key": log_key,
        "key_history": key_history,
        "created_at": created_at.isoformat(),
        "exported_by": {"id": exported_by[0], "role": exported_by[1]},
        "content": content,
        "export_event": export_event,
        "anchor": anchor,
        "events": list(events),
        "checkpoints": list(checkpoints),
        "artifacts": list(artifacts),
        "tsas": sorted(tsas, key=lambda t: str(t["name"])),
        "files": list(files),
    }


# -- reading ---------------------------------------------------------------------------------


def required(doc: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(doc, dict) or name not in doc:
        raise MalformedInput(f"{where} lacks '{name}'")
    value = doc[name]
    # bool is an int subclass: `true` must not pass as an index.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedInput(f"{where}: '{name}' must be {kind.__name__}")
    if isinstance(value, int) and value < 0:
        raise MalformedInput(f"{where}: '{name}' is negative")
    return value


def parse_manifest(data: bytes) -> BundleManifest:
    """Decode `manifest.json`; MalformedInput unless it is a well-formed bundle manifest."""
    doc = load_strict_json(data, "manifest", limit=MAX_MANIFEST_BYTES)
    if not isinstance(doc, dict) or doc.get("format") not in BUNDLE_FORMATS:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise MalformedInput(
            f"not a {' or '.join(BUNDLE_FORMATS)} bundle (format is {str(found)[:64]!r})"
        )
    key_history = doc.get("key_history")
    if doc["format"] == BUNDLE_FORMATS[0] and "key_history" in doc:
        raise MalformedInput(f"a {BUNDLE_FORMATS[0]} manifest has no 'key_history'")
    if key_history is not None and not isinstance(key_history, str):
        raise MalformedInput("'key_history' must be a member name or null")
    events = tuple(
        EventEntry(
            index=required(e, "index", int, f"events[{i}]"),
            chain=required(e, "chain", str, f"events[{i}]"),
            type=required(e, "type", str, f"events[{i}]"),
            sealed_in=required(e, "sealed_in", int, f"events[{i}]"),
        )
        for i, e in enumerate(required(doc, "events", list, "manifest"))
    )
    checkpoints = tuple(
        CheckpointEntry(
            size=required(c, "size", int, f"checkpoints[{i}]"),
            timestamps=tuple(
                TokenEntry(
                    tsa=required(t, "tsa", str, f"checkpoints[{i}].timestamps[{j}]"),
                    chain=required(t, "chain", str, f"checkpoints[{i}].timestamps[{j}]"),
                    renewal=_renewal(doc["format"], t, f"checkpoints[{i}].timestamps[{j}]"),
                )
                for j, t in enumerate(required(c, "timestamps", list, f"checkpoints[{i}]"))
            ),
            timestamps_pending=required(c, "timestamps_pending", int, f"checkpoints[{i}]"),
        )
        for i, c in enumerate(required(doc, "checkpoints", list, "manifest"))
    )
    artifacts = []
    for i, a in enumerate(required(doc, "artifacts", list, "manifest")):
        where = f"artifacts[{i}]"
        file = a.get("file") if isinstance(a, dict) else None
        if file is not None and not isinstance(file, str):
            raise MalformedInput(f"{where}: 'file' must be a member name or null")
        hashes = {}
        for algo in ALGORITHMS:
            value = required(a, algo, str, where)
            if not re.fullmatch(f"[0-9a-f]{{{_HEX[algo]}}}", value):
                raise MalformedInput(f"{where}: '{algo}' is not lowercase hex of the right length")
            hashes[algo] = value
        artifacts.append(
            ArtifactEntry(
                id=required(a, "id", str, where),
                ingest_index=required(a, "ingest_index", int, where),
                file_name=required(a, "file_name", str, where),
                size=required(a, "size", int, where),
                hashes=hashes,
                file=file,
            )
        )
    tsas = []
    for i, t in enumerate(required(doc, "tsas", list, "manifest")):
        root = t.get("root") if isinstance(t, dict) else None
        if root is not None and not isinstance(root, str):
            raise MalformedInput(f"tsas[{i}]: 'root' must be a member name or null")
        tsas.append(
            TsaEntry(
                name=required(t, "name", str, f"tsas[{i}]"),
                root=root,
                self_operated=bool(required(t, "self_operated", bool, f"tsas[{i}]")),
            )
        )
    files: dict[str, str] = {}
    for i, f in enumerate(required(doc, "files", list, "manifest")):
        name = required(f, "name", str, f"files[{i}]")
        if name in files or name == MANIFEST:
            raise MalformedInput(f"files[{i}]: {name!r} is listed twice")
        files[name] = hash_hex(
            required(f, "sha256", str, f"files[{i}]"), f"files[{i}].sha256"
        ).hex()
    exported = required(doc, "exported_by", dict, "manifest")
    return BundleManifest(
        format=doc["format"],
        case=required(doc, "case", str, "manifest"),
        origin=required(doc, "origin", str, "manifest"),
        log_key=required(doc, "log_key", str, "manifest"),
        created_at=required(doc, "created_at", str, "manifest"),
        exported_by=f"{required(exported, 'id', str, 'exported_by')} "
        f"({required(exported, 'role', str, 'exported_by')})",
        content=bool(required(doc, "content", bool, "manifest")),
        export_event=required(doc, "export_event", int, "manifest"),
        anchor=required(doc, "anchor", int, "manifest"),
        events=events,
        checkpoints=checkpoints,
        artifacts=tuple(artifacts),
        tsas=tuple(tsas),
        files=files,
        key_history=key_history,
    )


def _renewal(fmt: str, t: Any, where: str) -> str | None:
    if not isinstance(t, dict) or "renewal" not in t:
        return None
    if fmt != BUNDLE_FORMAT:
        raise MalformedInput(f"{where}: a {fmt} manifest has no 'renewal'")
    return str(required(t, "renewal", str, where))


def expected_members(m: BundleManifest) -> set[str]:
    """Every member the manifest's structure implies; anything else in the zip is extra."""
    names = {LOG_KEY_MEMBER}
    if m.key_history is not None:
        names.add(m.key_history)
    for tsa in m.tsas:
        if tsa.root is not None:
            names.add(tsa.root)
    sizes = [c.size for c in m.checkpoints]
    for c in m.checkpoints:
        names.add(checkpoint_member(c.size))
        for t in c.timestamps:
            names.add(token_member(c.size, t.tsa))
            names.add(t.chain)
            if t.renewal is not None:
                names.add(t.renewal)
    for a, b in zip(sizes, sizes[1:], strict=False):
        names.add(consistency_member(a, b))
    for e in m.events:
        names.add(event_member(e.index))
        names.add(proof_member(e.index))
    for art in m.artifacts:
        if art.file is not None:
            names.add(art.file)
    return names


def check_layout(m: BundleManifest) -> None:
    """Every member name the manifest gives is the one the layout prescribes.

    Raises BundleMemberError: a free-form name could point outside the layout (an extract
    path like `../x`), or shadow another member's role.
    """
    if m.key_history is not None and m.key_history != KEY_HISTORY_MEMBER:
        raise BundleMemberError(
            f"the key history must be {KEY_HISTORY_MEMBER}", subject=m.key_history[:200]
        )
    for tsa in m.tsas:
        if tsa.root is not None and tsa.root != tsa_root_member(tsa.name):
            raise BundleMemberError(
                f"the root of TSA {tsa.name[:64]!r} must be {tsa_root_member(tsa.name)}",
                subject=tsa.root[:200],
            )
    for c in m.checkpoints:
        for t in c.timestamps:
            if t.renewal is not None and t.renewal != renewal_member(c.size, t.tsa):
                raise BundleMemberError(
                    f"the renewals of token {c.size}/{t.tsa[:64]!r} must be "
                    f"{renewal_member(c.size, t.tsa)}",
                    subject=t.renewal[:200],
                )
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
