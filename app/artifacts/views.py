"""Evidence in and out over HTTP: streaming upload (raw or multipart), download with ranges."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from app.artifacts import service
from app.artifacts.ingest import Ingest
from app.artifacts.metadata import ArtifactMeta, named_media_type
from app.artifacts.models import Artifact
from app.artifacts.ranges import parse_range
from app.artifacts.schemas import AnnotationIn, ArtifactOut, ChainEntry, IngestOut, TransferIn
from app.artifacts.streaming import ChunkWriter, copy_multipart, copy_raw, declared_length
from app.deps import Collector, Reader, VaultDep, in_read_thread
from app.edge.routes import GuardedRoute, streams_body
from app.errors import BadRequest
from app.events.record import submit_async
from app.sealed_response import sealed
from app.text import MultiLine
from app.uploads.reserve import upload_room
from app.vault import Vault
from storage.base import Upload
from verify.events import chain_key, decode_event

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["artifacts"], route_class=GuardedRoute)
SIGNATURE_HEADER = "x-locard-manifest-signature"


def _meta(values: dict[str, Any]) -> ArtifactMeta:
    try:
        return ArtifactMeta.model_validate({k: v for k, v in values.items() if v not in (None, "")})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadRequest(f"invalid artifact metadata: {where}: {first.get('msg')}") from exc


@router.post("/cases/{case_id}/artifacts", status_code=201, response_model=IngestOut)
@streams_body
async def upload(
    case_id: str,
    request: Request,
    vault: VaultDep,
    who: Collector,
    file_name: Annotated[str | None, Query(max_length=255)] = None,
    media_type: Annotated[str | None, Query(max_length=128)] = None,
    source_host: Annotated[str | None, Query(max_length=255)] = None,
    collection_method: Annotated[str | None, Query(max_length=255)] = None,
    collection_tool: Annotated[str | None, Query(max_length=255)] = None,
    collected_at: Annotated[str | None, Query(max_length=64)] = None,
    notes: Annotated[str | None, Query(max_length=4000)] = None,
    sha256: Annotated[str | None, Query(max_length=64)] = None,
    device_make: Annotated[str | None, Query(max_length=255)] = None,
    device_model: Annotated[str | None, Query(max_length=255)] = None,
    device_serial: Annotated[str | None, Query(max_length=255)] = None,
    seals: Annotated[str | None, Query(max_length=2100)] = None,
    collected_by: Annotated[str | None, Query(max_length=255)] = None,
    collection_place: Annotated[str | None, Query(max_length=255)] = None,
    tool_version: Annotated[str | None, Query(max_length=255)] = None,
) -> IngestOut:
    """Stream one artifact into the case.

    Raw body (any content type but multipart) with metadata in the query, or
    `multipart/form-data` with metadata fields before a `file` part. Nothing is
    stored or recorded unless every byte arrived and matched what was declared.
    The item's description for the custody report (device make/model/serial, comma-separated
    seal numbers, who collected it and where, the tool's version) is optional.
    """
    limit = vault.settings.max_upload_bytes
    declared = declared_length(request, limit)
    room = await run_in_threadpool(upload_room, vault, declared)  # 507 before the body
    signature = request.headers.get(SIGNATURE_HEADER)
    content_type = request.headers.get("content-type", "application/octet-stream")
    query = {
        "file_name": file_name,
        "media_type": media_type,
        "source_host": source_host,
        "collection_method": collection_method,
        "collection_tool": collection_tool,
        "collected_at": collected_at,
        "notes": notes,
        "sha256": sha256,
        "device_make": device_make,
        "device_model": device_model,
        "device_serial": device_serial,
        "seals": seals,
        "collected_by": collected_by,
        "collection_place": collection_place,
        "tool_version": tool_version,
    }
    writer: ChunkWriter[Upload] | None = None
    ingest: Ingest | None = None

    def start(fields: dict[str, str], name: str | None, ftype: str | None) -> ChunkWriter[Upload]:
        nonlocal writer, ingest
        values = {**query, **fields}
        values.setdefault("file_name", name)
        if not values.get("file_name"):
            values["file_name"] = name
        if not values.get("media_type") and ftype:
            values["media_type"] = ftype
        ingest = Ingest.begin(vault, who, case_id, _meta(values), signature, max_size=limit)
        writer = ChunkWriter(ingest.upload, limit)
        return writer

    try:
        if content_type.lower().startswith("multipart/form-data"):
            result, _ = await copy_multipart(request.stream(), content_type, "file", start)
            if not result.file_seen:
                raise BadRequest("multipart upload has no 'file' part")
        else:
            if not query["media_type"] and named_media_type(content_type):
                query["media_type"] = content_type
            await run_in_threadpool(start, {}, None, None)
            assert writer is not None
            await copy_raw(request.stream(), writer)
            if declared is not None and writer.size != declared:
                raise BadRequest(f"body has {writer.size} bytes but Content-Length said {declared}")
        assert writer is not None and ingest is not None
        if writer.size == 0:
            raise BadRequest("empty artifact: zero bytes are not evidence")
        await run_in_threadpool(ingest.commit)
    except ClientDisconnect:
        log.info("client disconnected mid-upload to %s; upload discarded", case_id)
        raise BadRequest("client disconnected before the upload completed") from None
    finally:
        room.close()
        if writer is not None:
            await writer.drain()  # no write may still be running when we abort
            await run_in_threadpool(writer.upload.abort)  # a no-op after commit
    artifact, receipt = await run_in_threadpool(ingest.seal)
    return IngestOut(artifact=ArtifactOut.model_validate(artifact), receipt=receipt.to_json())


@router.get("/cases/{case_id}/artifacts", response_model=list[ArtifactOut])
def list_artifacts(case_id: str, vault: VaultDep, who: Reader) -> list[ArtifactOut]:
    return [
        ArtifactOut.model_validate(a) for a in service.list_artifacts(vault.engine, case_id, who)
    ]


@router.get("/artifacts/{artifact_id}", response_model=ArtifactOut)
async def read_artifact(artifact_id: str, vault: VaultDep, who: Reader) -> ArtifactOut:
    art = service.known_artifact(vault, who, artifact_id)
    if art is None:
        art = await in_read_thread(service.read_artifact, vault, who, artifact_id)
    return ArtifactOut.model_validate(art)


def _content_headers(art: Artifact) -> dict[str, str]:
    return {
        "Accept-Ranges": "bytes",
        "ETag": f'"sha256:{art.sha256}"',
        "Content-Disposition": f"attachment; filename*=UTF-8''{_rfc5987(art.file_name)}",
        "X-Locard-SHA256": art.sha256,
    }


def _rfc5987(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _rehashing(vault: Vault, art: Artifact, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Full downloads are re-hashed on the way out; a mismatch cuts the stream short.

    The last chunk is held back until the hash is checked: yielding it first would hand
    the client every byte of Content-Length, a complete-looking download of bytes that
    are not the evidence. Cut short, the transfer fails at the client.
    """
    h = hashlib.sha256()
    held: bytes | None = None
    for chunk in chunks:
        h.update(chunk)
        if held is not None:
            yield held
        held = chunk
    if h.hexdigest() != art.sha256:
        log.error("integrity failure: %s hashed %s on download", art.id, h.hexdigest())
        raise RuntimeError(f"stored bytes of {art.id} no longer match their SHA-256")
    if held is not None:
        yield held


@router.api_route("/artifacts/{artifact_id}/content", methods=["HEAD"])
def head_content(artifact_id: str, vault: VaultDep, who: Reader) -> Response:
    art = service.get_artifact(vault.engine, artifact_id, who)
    headers = _content_headers(art) | {"Content-Length": str(art.size)}
    return Response(status_code=200, headers=headers, media_type=art.media_type)


@router.get("/artifacts/{artifact_id}/content")
def download(
    artifact_id: str,
    vault: VaultDep,
    who: Reader,
    reason: Annotated[MultiLine, Query(min_length=1, max_length=2000)],
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> StreamingResponse:
    """Stream the evidence bytes. The access (who, when, why, which bytes) is sealed first."""
    art = service.get_artifact(vault.engine, artifact_id, who)
    byte_range = parse_range(range_header, art.size)
    receipt = service.record_access(vault, who, art, reason, byte_range)
    headers = _content_headers(art) | {"X-Locard-Access-Event": str(receipt.event.index)}
    if byte_range is None:
        chunks = _rehashing(vault, art, vault.store.open_range(art.object_key))
        headers["Content-Length"] = str(art.size)
        return StreamingResponse(chunks, media_type=art.media_type, headers=headers)
    start, end = byte_range
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{art.size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        vault.store.open_range(art.object_key, start, end),
        status_code=206,
        media_type=art.media_type,
        headers=headers,
    )


@router.get("/artifacts/{artifact_id}/custody", response_model=list[ChainEntry])
def custody_chain(artifact_id: str, vault: VaultDep, who: Reader) -> list[ChainEntry]:
    art = service.get_artifact(vault.engine, artifact_id, who)
    return [
        ChainEntry(
            index=e.index, leaf_hash=e.leaf_hash.hex(), event=decode_event(e.canonical).as_json()
        )
        for e in vault.ledger.chain(chain_key(art.case_id, art.id))
    ]


@router.post("/artifacts/{artifact_id}/transfers", status_code=201)
async def transfer(
    artifact_id: str, data: TransferIn, vault: VaultDep, who: Reader
) -> dict[str, Any]:
    art, receipt = await run_in_threadpool(
        service.transfer, vault, who, artifact_id, data.to, data.reason
    )
    return {"artifact": ArtifactOut.model_validate(art), "receipt": receipt.to_json()}


@router.post("/artifacts/{artifact_id}/annotations", status_code=201)
async def annotate(
    artifact_id: str, data: AnnotationIn, vault: VaultDep, who: Reader
) -> JSONResponse:
    case_id = vault.access.case_of(artifact_id, who)
    if case_id is None:
        case_id = await in_read_thread(service.artifact_case, vault, who, artifact_id)
    d = service.annotation_draft(who, case_id, artifact_id, data.text)
    # the seal is awaited on the event loop, not in a worker thread parked per request
    return sealed(await submit_async(vault, d), status_code=201)
