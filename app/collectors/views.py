"""A collector's container over HTTP: streamed to local staging, checked whole, then
ingested item by item (app.collectors.ingest)."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from app.artifacts.metadata import clean_file_name
from app.artifacts.schemas import ArtifactOut
from app.artifacts.streaming import ChunkWriter, copy_raw, declared_length
from app.auth.models import Principal
from app.cases.service import readable_case, writable_case
from app.collectors import resume
from app.collectors.ingest import ingest_collection
from app.collectors.progress import RUNS
from app.collectors.safezip import ZipLimits
from app.collectors.schemas import CollectedItemOut, CollectionOut, MismatchOut, ProgressOut
from app.collectors.staging import StagingFile
from app.collectors.storing import Staged
from app.db import session
from app.deps import Collector, VaultDep
from app.disk.errors import UploadQuotaExceeded
from app.edge.routes import GuardedRoute, streams_body
from app.errors import BadRequest, NotFound
from app.uploads.reserve import held_by, upload_room
from app.uploads.settings import upload_settings
from app.vault import Vault

router = APIRouter(prefix="/v1", tags=["collections"], route_class=GuardedRoute)
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _within_quota(vault: Vault, who: Principal, declared: int) -> None:
    """The staging quota of resumable uploads holds for a spooled container too."""
    quota = upload_settings().quota_bytes
    with session(vault.engine) as s:
        held = held_by(s, who.id, datetime.now(UTC))
    if held + declared > quota:
        raise UploadQuotaExceeded(
            f"your open uploads declare {held} bytes; a container of {declared} more would "
            f"pass your staging quota of {quota} bytes (LOCARD_UPLOAD_QUOTA_BYTES)"
        )


@router.post("/cases/{case_id}/collections", status_code=201, response_model=CollectionOut)
@streams_body
async def upload_collection(
    case_id: str,
    request: Request,
    vault: VaultDep,
    who: Collector,
    file_name: Annotated[str, Query(max_length=255)] = "collection",
    container_sha256: Annotated[str | None, Query(max_length=64)] = None,
) -> CollectionOut:
    """Ingest a Velociraptor offline collection, a zipped KAPE target output or an E01
    image (raw body). `container_sha256`: the hash the collector logged for the
    container; a different container is refused. Nothing is stored unless the whole
    container passed its checks."""
    await run_in_threadpool(writable_case, vault.engine, case_id, who)
    name = clean_file_name(file_name)
    logged = None
    if container_sha256 is not None:
        if not _SHA256.match(container_sha256):
            raise BadRequest("container_sha256 must be 64 hex digits")
        logged = container_sha256.lower()
    limit = vault.settings.max_upload_bytes
    declared = declared_length(request, limit)
    if declared is not None:
        await run_in_threadpool(_within_quota, vault, who, declared)
    # Room for the spooled copy, the container object and its items' objects (whose total
    # the container's directory bounds by collection_max_bytes, checked before storing).
    room = await run_in_threadpool(upload_room, vault, None if declared is None else 3 * declared)
    staging = await run_in_threadpool(StagingFile, vault.settings.data_dir)
    writer = ChunkWriter(staging, limit)
    try:
        try:
            await copy_raw(request.stream(), writer)
        except ClientDisconnect:
            raise BadRequest("client disconnected before the container arrived") from None
        if declared is not None and writer.size != declared:
            raise BadRequest(f"body has {writer.size} bytes but Content-Length said {declared}")
        if writer.size == 0:
            raise BadRequest("empty container")
        sha256 = await run_in_threadpool(staging.finish)
        s = vault.settings
        limits = ZipLimits(s.collection_max_members, s.collection_max_bytes, s.collection_max_ratio)
        staged = Staged(staging.path, name, sha256, writer.size)
        result = await run_in_threadpool(
            ingest_collection, vault, who, case_id, staged, logged_sha256=logged, limits=limits
        )
    finally:
        room.close()
        await writer.drain()
        await run_in_threadpool(staging.discard)
    return CollectionOut(
        collector=result.collector,
        container=ArtifactOut.model_validate(result.container),
        provenance=[ArtifactOut.model_validate(p) for p in result.provenance],
        items=[CollectedItemOut(**asdict(i)) for i in result.items],
        mismatches=[MismatchOut(**asdict(m)) for m in result.mismatches],
        receipt=result.receipt.to_json(),
        resumed=result.resumed,
        bytes=result.bytes,
    )


def _progress(vault: Vault, who: Principal, case_id: str, sha256: str) -> ProgressOut:
    readable_case(vault.engine, case_id, who)  # collectors: 404 for others' cases
    live = RUNS.get(case_id, sha256)
    if live is not None:
        return ProgressOut.model_validate(live.snapshot())
    run = resume.find_run(vault, case_id, sha256)
    if run.container is not None:
        # interrupted (in another process's lifetime): sending it again resumes it
        return ProgressOut(
            state="interrupted",
            container=run.container_id,
            files_total=None,
            files_done=None,
            bytes_total=None,
            bytes_done=None,
            resumed=None,
        )
    last = resume.last_closed(vault, case_id, sha256)
    if last is None:
        raise NotFound(f"no collection of a container with SHA-256 {sha256} in {case_id}")
    cid, body = last
    files = len(body.get("items", [])) + len(body.get("provenance", []))
    return ProgressOut(
        state="finished",
        container=cid,
        files_total=files,
        files_done=files,
        bytes_total=None,
        bytes_done=None,
        resumed=None,
    )


@router.get("/cases/{case_id}/collections/progress", response_model=ProgressOut)
async def collection_progress(
    case_id: str,
    vault: VaultDep,
    who: Collector,
    sha256: Annotated[str, Query(max_length=64)],
) -> ProgressOut:
    """How far the collection of the container with this SHA-256 has got: files and
    bytes sealed of the whole (`locard upload` polls it while the vault ingests)."""
    if not _SHA256.match(sha256):
        raise BadRequest("sha256 must be 64 hex digits")
    return await run_in_threadpool(_progress, vault, who, case_id, sha256.lower())
