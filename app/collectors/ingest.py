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
from pathlib import PurePosixPath
from urllib.parse import unquote

from app.artifacts.metadata import ArtifactMeta
from app.artifacts.service import plan_ingest
from app.auth.models import Principal
from app.cases.models import Case
from app.cases.service import writable_case
from app.collectors import ewf, kape, resume, velociraptor
from app.collectors.errors import ContainerHashMismatch, UnknownContainer
from app.collectors.ewf_ingest import ingest_ewf, ingest_split_ewf
from app.collectors.items import CollectionResult, ItemFacts, ItemResult, Mismatch, item_facts
from app.collectors.pipeline import Job, Pipeline
from app.collectors.plan import CollectionPlan, PlannedItem
from app.collectors.progress import Progress, tracked
from app.collectors.safezip import ZipLimits, check_members, open_zip
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
from app.events.collector_events import Collector, CollectorContainerV1
from app.vault import Vault
from custody.ledger import EventDraft
from storage.base import StoredObject
from storage.hashing import Digests

ZIP_MAGIC = b"PK\x03\x04"


def ingest_collection(
    vault: Vault,
    who: Principal,
    case_id: str,
    staged: Staged,
    *,
    logged_sha256: str | None,
    limits: ZipLimits,
) -> CollectionResult:
    case = writable_case(vault.engine, case_id, who)  # before reading a byte of the container
    if logged_sha256 is not None and logged_sha256 != staged.sha256:
        raise ContainerHashMismatch(
            f"the container hashes to {staged.sha256}, but the collector logged "
            f"{logged_sha256}: it changed after the collector wrote it; nothing was stored"
        )
    with staged.path.open("rb") as fh:
        head = fh.read(len(ewf.EWF_SIGNATURE))
    if ewf.is_ewf(head):
        return ingest_ewf(vault, who, case_id, staged)
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
        elif ewf.is_split_image(names):
            check_members(zf)
            return ingest_split_ewf(vault, who, case, staged, zf)
        else:
            raise UnknownContainer(
                "a zip that is neither a Velociraptor collection (collection_context.json, "
                "uploads.json), a KAPE target output (*_CopyLog.csv) nor the segments of "
                "one split E01 image"
            )
        check_members(zf)
        with tracked(case_id, staged.sha256) as progress:
            return _ingest_zip(vault, who, case, staged, zf, plan, logged_sha256, progress)


def _ingest_zip(
    vault: Vault,
    who: Principal,
    case: Case,
    staged: Staged,
    zf: zipfile.ZipFile,
    plan: CollectionPlan,
    logged_sha256: str | None,
    progress: Progress,
) -> CollectionResult:
    # Every artifact's metadata is made (and so checked) before the first is stored.
    container_meta = meta_for(plan, name_for(staged.name), None, "application/zip")
    prov_metas = [
        (m, meta_for(plan, name_for(m), None, "application/octet-stream")) for m in plan.provenance
    ]
    item_metas: list[tuple[PlannedItem, ArtifactMeta]] = [
        (
            i,
            meta_for(
                plan,
                name_for(i.source_path, unquote(PurePosixPath(i.member).name)),
                i.copied_at,
                "application/octet-stream",
            ),
        )
        for i in plan.items
    ]
    run = resume.find_run(vault, case.id, staged.sha256)
    cid = run.container_id
    sizes = {i.filename: i.file_size for i in zf.infolist()}
    members = [m for m, _ in prov_metas] + [i.member for i, _ in item_metas]
    progress.plan(cid, len(members), sum(sizes[m] for m in members))
    container = run.container
    if container is None:
        container = store_one(
            vault, who, case.id, container_meta, file_chunks(staged.path), artifact_id=cid
        )[0]
    prov_ids = [resume.member_id(cid, "provenance", m) for m, _ in prov_metas]
    item_ids = [resume.member_id(cid, "item", i.member) for i, _ in item_metas]
    have = resume.sealed_artifacts(vault, [*prov_ids, *item_ids])
    on_chains = resume.sealed_facts(vault, [cid, *(i for i in item_ids if i in have)])
    plan_ = plan_ingest(vault, who, case.id, container_meta, None)
    pipe = Pipeline(vault, who, plan_, zf, progress, vault.settings.max_upload_bytes)

    # provenance first: every item links to it
    def no_follow(job: Job, stored: StoredObject) -> tuple[list[EventDraft], str]:
        return [], job.artifact_id

    pipe.run(
        (
            Job(m, meta, aid, sizes[m])
            for (m, meta), aid in zip(prov_metas, prov_ids, strict=True)
            if aid not in have
        ),
        no_follow,
    )
    for aid, (m, _) in zip(prov_ids, prov_metas, strict=True):
        if aid in have:
            progress.sealed(1, sizes[m], resumed=True)
    provenance = resume.sealed_artifacts(vault, prov_ids)
    by_member = {i.member: i for i, _ in item_metas}

    def item_follow(job: Job, stored: StoredObject) -> tuple[list[EventDraft], ItemFacts]:
        facts = item_facts(
            plan.collector,
            cid,
            prov_ids,
            by_member[job.member],
            job.artifact_id,
            job.meta.file_name,
            stored.digests,
        )
        return _item_drafts(who, case.id, plan.collector, cid, facts, job.artifact_id), facts

    fresh = pipe.run(
        (
            Job(i.member, meta, aid, sizes[i.member])
            for (i, meta), aid in zip(item_metas, item_ids, strict=True)
            if aid not in have
        ),
        item_follow,
    )
    # Items an interrupted run sealed: only the collector events it had not sealed yet.
    earlier: list[ItemFacts] = []
    missing_drafts: list[EventDraft] = []
    for (i, _), aid in zip(item_metas, item_ids, strict=True):
        art = have.get(aid)
        if art is None:
            continue
        digests = Digests(art.sha256, art.sha1, art.md5, art.size)
        facts = item_facts(plan.collector, cid, prov_ids, i, aid, art.file_name, digests)
        earlier.append(facts)
        done = on_chains.mismatches.get(aid, set())
        missing_drafts += [
            d
            for d, m in zip(
                _item_drafts(who, case.id, plan.collector, cid, facts, aid)[1:],
                facts.mismatches,
                strict=True,
            )
            if m.key not in done
        ]
        if aid not in on_chains.items:
            missing_drafts.append(_item_drafts(who, case.id, plan.collector, cid, facts, aid)[0])
        progress.sealed(1, art.size, resumed=True)
    order = {aid: n for n, aid in enumerate(item_ids)}
    all_facts = sorted([*fresh, *earlier], key=lambda f: order[f.result.artifact])
    mismatches = [m for f in all_facts for m in f.mismatches]
    gone = [Mismatch("missing_file", name, None) for name in plan.missing]
    done_here = on_chains.mismatches.get(cid, set())
    missing_drafts += [
        mismatch_draft(who, case.id, plan.collector, cid, m) for m in gone if m.key not in done_here
    ]
    seal_all(vault, missing_drafts)
    mismatches += gone
    items: list[ItemResult] = [f.result for f in all_facts]
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
        case=case.id,
        item=cid,
    )
    return CollectionResult(
        plan.collector,
        container,
        receipt,
        [provenance[p] for p in prov_ids],
        items,
        mismatches,
        resumed=len(earlier) + sum(1 for p in prov_ids if p in have),
        bytes=progress.bytes_done,
    )


def _item_drafts(
    who: Principal,
    case_id: str,
    collector: Collector,
    container: str,
    facts: ItemFacts,
    artifact: str,
) -> list[EventDraft]:
    """The item's collector.item, then one collector.mismatch per disagreement."""
    item = draft(
        who.id, who.role, EventType.collector_item, facts.body, case=case_id, item=artifact
    )
    return [
        item,
        *(mismatch_draft(who, case_id, collector, container, m) for m in facts.mismatches),
    ]
