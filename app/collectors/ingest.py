"""A collector's container becomes evidence: the container, its provenance files and every
collected file, each its own artifact through the one ingest flow (app.artifacts.ingest),
each file's collector hash checked against the bytes.

Everything that can refuse is checked before the first object is written: the case and
role, the container hash the collector logged, the zip's shape and every member's CRC,
the collector's records. What is left can only disagree, and a disagreement is a fact:
a file whose hash differs from the collector's is stored and sealed with a
`collector.mismatch` beside its ingest. Refusing it would drop the one copy of what the
endpoint held when collected (a file changed while copied, a bad sector), and the
container hash already shows the vault holds exactly what the collector wrote.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from pydantic import ValidationError

from app.artifacts.ingest import Ingest
from app.artifacts.metadata import ArtifactMeta, clean_file_name
from app.artifacts.models import Artifact
from app.auth.models import Principal
from app.cases.service import writable_case
from app.collectors import ewf, kape, velociraptor
from app.collectors.errors import (
    ContainerHashMismatch,
    MalformedCollection,
    UnknownContainer,
)
from app.collectors.plan import CollectionPlan, PlannedItem
from app.collectors.safezip import ZipLimits, check_members, open_zip
from app.errors import AppError
from app.events import EventType, record
from app.events.collector_events import (
    Collector,
    CollectorContainerV1,
    CollectorItemV1,
    CollectorMismatchV1,
    HashCheck,
    MismatchKind,
)
from app.vault import Vault
from custody.ledger import Receipt
from storage.base import StoredObject

READ = 1 << 20
#: items in flight at once: each mostly waits for its seals, so many share one seal (zipfile
#: reads members of one archive from several threads)
WORKERS = 32
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Staged:
    """The container as received, on local disk, with the SHA-256 taken on the way in."""

    path: Path
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ItemResult:
    artifact: str
    file_name: str
    source_path: str | None
    sha256: str
    matches: bool | None
    listed: bool


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    name: str
    artifact: str | None
    algorithm: str | None = None
    recorded: str | None = None
    computed: str | None = None


@dataclass
class CollectionResult:
    collector: Collector
    container: Artifact
    receipt: Receipt
    provenance: list[Artifact] = field(default_factory=list)
    items: list[ItemResult] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(READ):
            yield block


def _member_chunks(zf: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with zf.open(name) as fh:
        while block := fh.read(READ):
            yield block


def _store(
    vault: Vault, who: Principal, case_id: str, meta: ArtifactMeta, chunks: Iterable[bytes]
) -> tuple[Artifact, Receipt, StoredObject]:
    ingest = Ingest.begin(vault, who, case_id, meta, None, max_size=vault.settings.max_upload_bytes)
    try:
        for chunk in chunks:
            ingest.upload.write(chunk)
        stored = ingest.commit()
    finally:
        ingest.abort()  # a no-op after commit
    art, receipt = ingest.seal()
    return art, receipt, stored


def _name_for(*candidates: str | None) -> str:
    """The artifact's file name: the endpoint's own name where it is a usable one."""
    for c in candidates:
        if not c:
            continue
        base = c.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        try:
            return clean_file_name(base[:255])
        except AppError:
            continue
    return "collected-item"


def _meta(
    plan: CollectionPlan, file_name: str, when: datetime | None, media_type: str
) -> ArtifactMeta:
    if when is not None and when > datetime.now(UTC):
        when = None  # a collector clock ahead of ours: told, but not as the fact's time
    try:
        return ArtifactMeta(
            file_name=file_name,
            media_type=media_type,
            source_host=plan.source_host,
            collection_method=plan.method,
            collection_tool=plan.tool,
            collected_at=when,
        )
    except ValidationError as exc:
        raise MalformedCollection(f"collector metadata for {file_name!r}: {exc}") from exc


def _mismatch(
    vault: Vault,
    who: Principal,
    case_id: str,
    collector: Collector,
    container: str | None,
    m: Mismatch,
) -> None:
    body = CollectorMismatchV1(
        collector=collector,
        container=container,
        kind=m.kind,
        name=m.name[:4096],
        algorithm=m.algorithm,
        recorded=m.recorded,
        computed=m.computed,
    )
    record(
        vault,
        who,
        EventType.collector_mismatch,
        body,
        case=case_id,
        item=m.artifact or container,
    )
    assert m.artifact or container


@dataclass(frozen=True)
class _Batch:
    """What every item of one container shares."""

    vault: Vault
    who: Principal
    case_id: str
    collector: Collector
    container: str
    provenance: list[str]
    zf: zipfile.ZipFile

    def item(self, planned: PlannedItem, meta: ArtifactMeta) -> tuple[ItemResult, list[Mismatch]]:
        """One file: its ingest, then what its collector said of it, on its own chain."""
        vault, who, case_id = self.vault, self.who, self.case_id
        art, _, stored = _store(vault, who, case_id, meta, _member_chunks(self.zf, planned.member))
        computed = {
            "sha256": stored.digests.sha256,
            "sha1": stored.digests.sha1,
            "md5": stored.digests.md5,
        }
        checks = [
            HashCheck(algorithm=alg, recorded=value, computed=computed[alg])
            for alg, value in planned.recorded.items()
        ]
        matches = all(c.recorded == c.computed for c in checks) if checks else None
        record(
            vault,
            who,
            EventType.collector_item,
            CollectorItemV1(
                collector=self.collector,
                container=self.container,
                provenance=self.provenance,
                source_path=planned.source_path,
                stored_name=planned.member,
                times=planned.times,
                checks=checks,
                matches=matches,
            ),
            case=case_id,
            item=art.id,
        )
        name = planned.source_path or planned.member
        found = [
            Mismatch("hash", name, art.id, c.algorithm, c.recorded, c.computed)
            for c in checks
            if c.recorded != c.computed
        ]
        if planned.recorded_size is not None and planned.recorded_size != art.size:
            found.append(
                Mismatch("size", name, art.id, None, str(planned.recorded_size), str(art.size))
            )
        if not planned.listed:
            found.append(Mismatch("unlisted_file", planned.member, art.id))
        for m in found:
            _mismatch(vault, who, case_id, self.collector, self.container, m)
        result = ItemResult(
            art.id, art.file_name, planned.source_path, art.sha256, matches, planned.listed
        )
        return result, found


def ingest_collection(
    vault: Vault,
    who: Principal,
    case_id: str,
    staged: Staged,
    *,
    logged_sha256: str | None,
    limits: ZipLimits,
) -> CollectionResult:
    writable_case(vault.engine, case_id, who)  # before reading a byte of the container
    if logged_sha256 is not None and logged_sha256 != staged.sha256:
        raise ContainerHashMismatch(
            f"the container hashes to {staged.sha256}, but the collector logged "
            f"{logged_sha256}: it changed after the collector wrote it; nothing was stored"
        )
    with staged.path.open("rb") as fh:
        head = fh.read(len(ewf.EWF_SIGNATURE))
    if ewf.is_ewf(head):
        return _ingest_ewf(vault, who, case_id, staged)
    if not head.startswith(ZIP_MAGIC):
        raise UnknownContainer(
            "not a collector container: expected a Velociraptor or KAPE zip, or an E01 image"
        )
    zf = open_zip(staged.path, limits)
    with zf:
        names = {i.filename for i in zf.infolist() if not i.is_dir()}
        if velociraptor.is_encrypted(names) or velociraptor.is_velociraptor(names):
            plan = velociraptor.plan(zf)
        elif kape.is_kape(names):
            plan = kape.plan(zf)
        else:
            raise UnknownContainer(
                "a zip that is neither a Velociraptor collection (collection_context.json, "
                "uploads.json) nor a KAPE target output (*_CopyLog.csv)"
            )
        check_members(zf)
        return _ingest_zip(vault, who, case_id, staged, zf, plan, logged_sha256)


def _ingest_zip(
    vault: Vault,
    who: Principal,
    case_id: str,
    staged: Staged,
    zf: zipfile.ZipFile,
    plan: CollectionPlan,
    logged_sha256: str | None,
) -> CollectionResult:
    # Every artifact's metadata is made (and so checked) before the first is stored.
    container_meta = _meta(plan, _name_for(staged.name), None, "application/zip")
    prov_metas = [
        (m, _meta(plan, _name_for(m), None, "application/octet-stream")) for m in plan.provenance
    ]
    item_metas: list[tuple[PlannedItem, ArtifactMeta]] = [
        (
            i,
            _meta(
                plan,
                _name_for(i.source_path, unquote(PurePosixPath(i.member).name)),
                i.copied_at,
                "application/octet-stream",
            ),
        )
        for i in plan.items
    ]
    container, _, _ = _store(vault, who, case_id, container_meta, _chunks(staged.path))
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="collection") as pool:
        provenance = list(
            pool.map(
                lambda pm: _store(vault, who, case_id, pm[1], _member_chunks(zf, pm[0]))[0],
                prov_metas,
            )
        )
    prov_ids = [p.id for p in provenance]
    items: list[ItemResult] = []
    mismatches: list[Mismatch] = []
    batch = _Batch(vault, who, case_id, plan.collector, container.id, prov_ids, zf)
    # Items are independent chains: streamed from the zip by a few workers at once, their
    # ingests wait for the same seals, so they are sealed in batches.
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="collection") as pool:
        for item, found in pool.map(lambda im: batch.item(*im), item_metas):
            items.append(item)
            mismatches += found
    for name in plan.missing:
        m = Mismatch("missing_file", name, None)
        _mismatch(vault, who, case_id, plan.collector, container.id, m)
        mismatches.append(m)
    receipt = record(
        vault,
        who,
        EventType.collector_container,
        CollectorContainerV1(
            collector=plan.collector,
            sha256=container.sha256,
            logged_sha256=logged_sha256,
            items=[i.artifact for i in items],
            provenance=prov_ids,
            mismatches=len(mismatches),
        ),
        case=case_id,
        item=container.id,
    )
    return CollectionResult(plan.collector, container, receipt, provenance, items, mismatches)


def _ingest_ewf(vault: Vault, who: Principal, case_id: str, staged: Staged) -> CollectionResult:
    reading = ewf.read_image(staged.path)
    software = reading.header.get("acquiry_software") or "EWF imager"
    version = reading.header.get("acquiry_software_version")
    plan = CollectionPlan(
        collector="ewf",
        tool=f"{software} {version}" if version else software,
        method="EWF disk image",
        source_host=None,
        provenance=[],
        items=[],
        missing=[],
    )
    meta = _meta(plan, _name_for(staged.name), reading.acquired_at, "application/x-ewf")
    art, _, _ = _store(vault, who, case_id, meta, _chunks(staged.path))
    checks = [
        HashCheck(algorithm=alg, recorded=reading.stored[alg], computed=reading.computed[alg])
        for alg in ("md5", "sha1")
        if alg in reading.stored
    ]
    matches = all(c.recorded == c.computed for c in checks) if checks else None
    recorded = dict(reading.header) | {"media_size": str(reading.media_size)}
    receipt = record(
        vault,
        who,
        EventType.collector_item,
        CollectorItemV1(
            collector="ewf",
            container=None,
            provenance=[],
            source_path=None,
            stored_name=None,
            times={},
            checks=checks,
            matches=matches,
            recorded=recorded,
        ),
        case=case_id,
        item=art.id,
    )
    mismatches = [
        Mismatch("hash", art.file_name, art.id, c.algorithm, c.recorded, c.computed)
        for c in checks
        if c.recorded != c.computed
    ]
    for m in mismatches:
        _mismatch(vault, who, case_id, "ewf", None, m)
    item = ItemResult(art.id, art.file_name, None, art.sha256, matches, True)
    return CollectionResult("ewf", art, receipt, [], [item], mismatches)
