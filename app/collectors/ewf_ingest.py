"""EWF images as evidence: one E01 file, or the segments of a split image sent together.

A split image (ewfacquire -S: NAME.E01, NAME.E02, …) arrives as one zip of its segment
files, which `locard upload NAME.E01` makes when the other segments lie beside it. Each
segment is its own artifact (own chain, own receipt: the bytes as the imager wrote
them); the zip is the container, and the image's facts — acquisition header, stored
MD5/SHA-1 against those of the media streamed through all segments — are the
container's `collector.item`, as for an unsplit E01 (whose file is both).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from app.artifacts.service import plan_ingest
from app.auth.models import Principal
from app.cases.models import Case
from app.collectors import ewf, resume
from app.collectors.errors import MalformedCollection
from app.collectors.items import CollectionResult, ItemResult, Mismatch
from app.collectors.pipeline import Job, Pipeline
from app.collectors.plan import CollectionPlan
from app.collectors.progress import tracked
from app.collectors.staging import StagingDir
from app.collectors.storing import (
    Staged,
    file_chunks,
    meta_for,
    mismatch_draft,
    name_for,
    seal_all,
    store_one,
)
from app.events import EventType, draft, record
from app.events.collector_events import CollectorContainerV1, CollectorItemV1, HashCheck
from app.vault import Vault
from custody.ledger import EventDraft
from storage.base import StoredObject

READ = 1 << 20


def _plan(reading: ewf.EwfReading) -> CollectionPlan:
    software = reading.header.get("acquiry_software") or "EWF imager"
    version = reading.header.get("acquiry_software_version")
    return CollectionPlan(
        collector="ewf",
        tool=f"{software} {version}" if version else software,
        method="EWF disk image",
        source_host=None,
        provenance=[],
        items=[],
        missing=[],
    )


def _image_facts(
    reading: ewf.EwfReading, name: str, artifact: str, segments: int
) -> tuple[CollectorItemV1, list[Mismatch], bool | None]:
    checks = [
        HashCheck(algorithm=alg, recorded=reading.stored[alg], computed=reading.computed[alg])
        for alg in ("md5", "sha1")
        if alg in reading.stored
    ]
    matches = all(c.recorded == c.computed for c in checks) if checks else None
    recorded = dict(reading.header) | {"media_size": str(reading.media_size)}
    if segments > 1:
        recorded["segments"] = str(segments)
    body = CollectorItemV1(
        collector="ewf",
        container=None,
        provenance=[],
        source_path=None,
        stored_name=None,
        times={},
        checks=checks,
        matches=matches,
        recorded=recorded,
    )
    found = [
        Mismatch("hash", name, artifact, c.algorithm, c.recorded, c.computed)
        for c in checks
        if c.recorded != c.computed
    ]
    return body, found, matches


def ingest_ewf(vault: Vault, who: Principal, case_id: str, staged: Staged) -> CollectionResult:
    reading = ewf.read_image([staged.path])
    plan = _plan(reading)
    meta = meta_for(plan, name_for(staged.name), reading.acquired_at, "application/x-ewf")
    art, _, _ = store_one(vault, who, case_id, meta, file_chunks(staged.path))
    body, mismatches, matches = _image_facts(reading, art.file_name, art.id, 1)
    receipt = record(vault, who, EventType.collector_item, body, case=case_id, item=art.id)
    seal_all(vault, [mismatch_draft(who, case_id, "ewf", None, m) for m in mismatches])
    item = ItemResult(art.id, art.file_name, None, art.sha256, matches, True)
    return CollectionResult("ewf", art, receipt, [], [item], mismatches, bytes=art.size)


def _extract(zf: zipfile.ZipFile, names: list[str], folder: Path) -> list[Path]:
    out = []
    for name in names:
        target = folder / name  # a plain top-level name: ewf.is_split_image checked it
        with zf.open(name) as src, target.open("wb") as dst:
            while block := src.read(READ):
                dst.write(block)
        out.append(target)
    return out


def ingest_split_ewf(
    vault: Vault,
    who: Principal,
    case: Case,
    staged: Staged,
    zf: zipfile.ZipFile,
) -> CollectionResult:
    infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
    names = sorted(infos, key=lambda n: ewf.segment_order(n) or ("", 0))
    positions = [p for _, p in (ewf.segment_order(n) or ("", 0) for n in names)]
    if positions != list(range(1, len(names) + 1)):
        raise MalformedCollection(
            f"the segments of a split image must run from .E01 without a gap; got {names}"
        )
    folder = StagingDir(vault.settings.data_dir)
    try:
        reading = ewf.read_image(_extract(zf, names, folder.path))
    finally:
        folder.discard()
    plan = _plan(reading)
    when = reading.acquired_at
    container_meta = meta_for(plan, name_for(staged.name), None, "application/zip")
    metas = [meta_for(plan, name_for(n), when, "application/x-ewf") for n in names]
    with tracked(case.id, staged.sha256) as progress:
        run = resume.find_run(vault, case.id, staged.sha256)
        cid = run.container_id
        progress.plan(cid, len(names), sum(infos[n].file_size for n in names))
        container = run.container
        if container is None:
            chunks = file_chunks(staged.path)
            container = store_one(vault, who, case.id, container_meta, chunks, cid)[0]
        ids = [resume.member_id(cid, "item", n) for n in names]
        have = resume.sealed_artifacts(vault, ids)
        on_chains = resume.sealed_facts(vault, [cid, *have])
        plan_ = plan_ingest(vault, who, case.id, container_meta, None)
        pipe = Pipeline(vault, who, plan_, zf, progress, vault.settings.max_upload_bytes)

        def segment_item(job: Job, stored: StoredObject) -> tuple[list[EventDraft], str]:
            return [_segment_draft(who, case.id, cid, job.member, job.artifact_id)], job.artifact_id

        pipe.run(
            (
                Job(n, m, aid, infos[n].file_size)
                for n, m, aid in zip(names, metas, ids, strict=True)
                if aid not in have
            ),
            segment_item,
        )
        late: list[EventDraft] = [
            _segment_draft(who, case.id, cid, n, aid)
            for n, aid in zip(names, ids, strict=True)
            if aid in have and aid not in on_chains.items
        ]
        for aid in have:
            progress.sealed(1, have[aid].size, resumed=True)
        body, mismatches, matches = _image_facts(reading, container.file_name, cid, len(names))
        if cid not in on_chains.items:
            late.append(
                draft(who.id, who.role, EventType.collector_item, body, case=case.id, item=cid)
            )
        done = on_chains.mismatches.get(cid, set())
        late += [
            mismatch_draft(who, case.id, "ewf", None, m) for m in mismatches if m.key not in done
        ]
        seal_all(vault, late)
        receipt = record(
            vault,
            who,
            EventType.collector_container,
            CollectorContainerV1(
                collector="ewf",
                sha256=container.sha256,
                logged_sha256=None,
                items=ids,
                provenance=[],
                mismatches=len(mismatches),
            ),
            case=case.id,
            item=cid,
        )
    segments = resume.sealed_artifacts(vault, ids)
    items = [
        ItemResult(a, segments[a].file_name, None, segments[a].sha256, None, True) for a in ids
    ]
    return CollectionResult(
        "ewf",
        container,
        receipt,
        [],
        items,
        mismatches,
        resumed=len(have),
        bytes=sum(s.size for s in segments.values()),
    )


def _segment_draft(who: Principal, case_id: str, container: str, name: str, aid: str) -> EventDraft:
    body = CollectorItemV1(
        collector="ewf",
        container=container,
        provenance=[],
        source_path=None,
        stored_name=name,
        times={},
        checks=[],
        matches=None,
    )
    return draft(who.id, who.role, EventType.collector_item, body, case=case_id, item=aid)
