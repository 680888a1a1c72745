"""Resumable uploads over HTTP, for large artifacts on flaky links.

    POST   /v1/cases/{case}/uploads      JSON metadata + size + sha256 → 201 {upload_id, offset}
    HEAD   /v1/uploads/{id}              Upload-Offset / Upload-Length / Upload-State headers
    GET    /v1/uploads/{id}              the same as JSON
    PATCH  /v1/uploads/{id}              Upload-Offset: N + raw bytes → the new offset
    POST   /v1/uploads/{id}/complete     → {artifact, receipt}, as the one-shot upload
    DELETE /v1/uploads/{id}              abandon

The header names follow tus (Upload-Offset, Upload-Length) so the protocol reads as
familiar, but this is not tus: creation carries JSON metadata and completion is explicit,
because turning bytes into evidence (store, seal, receipt) is a step of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect

from app.artifacts.metadata import ArtifactMeta
from app.artifacts.schemas import ArtifactOut, IngestOut
from app.artifacts.views import SIGNATURE_HEADER
from app.deps import Collector, VaultDep
from app.edge.routes import GuardedRoute, streams_body
from app.errors import BadRequest, PayloadTooLarge
from app.uploads import service
from app.uploads.models import UploadSession
from app.uploads.settings import upload_settings

FLUSH = 1 << 20
_MAX_OFFSET_DIGITS = 19  # fits a signed 64-bit column


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the app's own lifespan, so the vault is open: spools left by sessions
    # that expired while the server was down go now rather than at the first request.
    await run_in_threadpool(lambda: service.maybe_sweep(app.state.vault, force=True))
    yield


router = APIRouter(prefix="/v1", tags=["uploads"], lifespan=_lifespan, route_class=GuardedRoute)


class UploadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str
    size: int = Field(ge=0)
    sha256: str
    media_type: str | None = None
    source_host: str | None = None
    collection_method: str | None = None
    collection_tool: str | None = None
    collected_at: str | None = Field(default=None, max_length=64)
    notes: str | None = None
    # The item's description (ingest v3), as on the one-shot upload.
    device_make: str | None = None
    device_model: str | None = None
    device_serial: str | None = None
    seals: list[str] | None = None
    collected_by: str | None = None
    collection_place: str | None = None
    tool_version: str | None = None


class UploadOut(BaseModel):
    upload_id: str
    case_id: str
    file_name: str
    size: int
    offset: int
    sha256: str
    state: str
    created_at: datetime
    expires_at: datetime
    artifact_id: str | None
    error: str | None


class OffsetOut(BaseModel):
    upload_id: str
    offset: int
    size: int


def _out(row: UploadSession) -> UploadOut:
    return UploadOut(
        upload_id=row.id,
        case_id=row.case_id,
        file_name=row.file_name,
        size=row.size,
        offset=row.upload_offset,
        sha256=row.sha256,
        state=service.effective_state(row),
        created_at=service.as_utc(row.created_at),
        expires_at=service.as_utc(row.expires_at),
        artifact_id=row.artifact_id,
        error=row.error,
    )


def _headers(row: UploadSession) -> dict[str, str]:
    return {
        "Upload-Offset": str(row.upload_offset),
        "Upload-Length": str(row.size),
        "Upload-State": service.effective_state(row),
        "Cache-Control": "no-store",
    }


def _meta(data: UploadCreate) -> ArtifactMeta:
    values = data.model_dump(exclude={"size"})
    try:
        return ArtifactMeta.model_validate({k: v for k, v in values.items() if v not in (None, "")})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadRequest(f"invalid artifact metadata: {where}: {first.get('msg')}") from exc


@router.post("/cases/{case_id}/uploads", status_code=201, response_model=UploadOut)
async def create(
    case_id: str, data: UploadCreate, request: Request, vault: VaultDep, who: Collector
) -> JSONResponse:
    """Open a resumable upload. Every check that can refuse the artifact runs here."""
    meta = _meta(data)
    signature = request.headers.get(SIGNATURE_HEADER)
    new = service.NewUpload(meta=meta, size=data.size)
    row = await run_in_threadpool(service.create_upload, vault, who, case_id, new, signature)
    headers = _headers(row) | {"Location": f"/v1/uploads/{row.id}"}
    return JSONResponse(_out(row).model_dump(mode="json"), status_code=201, headers=headers)


@router.api_route("/uploads/{upload_id}", methods=["HEAD"])
def head(upload_id: str, vault: VaultDep, who: Collector) -> Response:
    row = service.get_upload(vault.engine, who, upload_id)
    return Response(status_code=200, headers=_headers(row))


@router.get("/uploads/{upload_id}", response_model=UploadOut)
def read(upload_id: str, vault: VaultDep, who: Collector) -> JSONResponse:
    row = service.get_upload(vault.engine, who, upload_id)
    return JSONResponse(_out(row).model_dump(mode="json"), headers=_headers(row))


def _offset(value: str | None) -> int:
    if value is None:
        raise BadRequest("send the Upload-Offset header (the offset this chunk starts at)")
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > _MAX_OFFSET_DIGITS:
        raise BadRequest("Upload-Offset must be a non-negative decimal integer")
    return int(value)


def _length(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > _MAX_OFFSET_DIGITS:
        raise BadRequest("Content-Length is not a number")
    return int(value)


async def _body(request: Request, idle_s: float) -> AsyncIterator[bytes]:
    """The request body, ending with TimeoutError if it stalls for `idle_s`."""
    chunks = request.stream().__aiter__()
    while True:
        try:
            with anyio.fail_after(idle_s):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        if chunk:
            yield chunk


@router.patch("/uploads/{upload_id}", response_model=OffsetOut)
@streams_body
async def append(
    upload_id: str,
    request: Request,
    vault: VaultDep,
    who: Collector,
    upload_offset: Annotated[str | None, Header(alias="upload-offset")] = None,
) -> JSONResponse:
    """Append the body at Upload-Offset; answers with the new offset.

    What arrived before a disconnect or a stall is kept and acknowledged (the client
    learns the offset from HEAD), so a broken link costs only the bytes in flight. A
    chunk that would pass the declared size is refused whole.
    """
    offset = _offset(upload_offset)
    length = _length(request.headers.get("content-length"))
    try:
        appender = await run_in_threadpool(
            service.begin_append, vault, who, upload_id, offset, length
        )
    except service.OffsetMismatch as exc:
        return JSONResponse(
            {"error": exc.code, "detail": exc.message, "offset": exc.offset},
            status_code=409,
            headers={"Upload-Offset": str(exc.offset), "Cache-Control": "no-store"},
        )
    received = 0
    try:
        buf = bytearray()
        try:
            async for chunk in _body(request, upload_settings().idle_timeout_s):
                received += len(chunk)
                if appender.start + received > appender.size:
                    raise PayloadTooLarge(
                        f"chunk goes beyond the declared size of {appender.size} bytes"
                    )
                buf += chunk
                if len(buf) >= FLUSH:
                    await run_in_threadpool(appender.write, bytes(buf))
                    buf.clear()
        except (ClientDisconnect, TimeoutError):
            pass  # keep what arrived: it is exactly a prefix of what the client sent
        if buf:
            await run_in_threadpool(appender.write, bytes(buf))
        new_offset = await run_in_threadpool(appender.commit, received)
    except BaseException:
        appender.rollback()
        appender.close()
        # Accounting only; the failure being raised is what matters.
        with suppress(Exception):
            await run_in_threadpool(service.count_discarded, vault.engine, upload_id, received)
        raise
    appender.close()
    return JSONResponse(
        OffsetOut(upload_id=upload_id, offset=new_offset, size=appender.size).model_dump(),
        headers={"Upload-Offset": str(new_offset), "Cache-Control": "no-store"},
    )


@router.post("/uploads/{upload_id}/complete", status_code=201, response_model=IngestOut)
async def complete(upload_id: str, vault: VaultDep, who: Collector) -> JSONResponse:
    """Turn the received bytes into evidence: stored (re-hashed), sealed, receipted.

    Asking again after success answers 200 with the same artifact and a fresh receipt,
    so a client that lost the first answer can still get one.
    """
    art, receipt, replayed = await run_in_threadpool(service.complete_upload, vault, who, upload_id)
    body: dict[str, Any] = IngestOut(
        artifact=ArtifactOut.model_validate(art), receipt=receipt.to_json()
    ).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if replayed else 201)


@router.delete("/uploads/{upload_id}", status_code=204)
async def abandon(upload_id: str, vault: VaultDep, who: Collector) -> Response:
    await run_in_threadpool(service.abandon_upload, vault, who, upload_id)
    return Response(status_code=204)
