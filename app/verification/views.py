"""Verification over HTTP: re-check a stored artifact, and ask whether the vault holds a file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from app.artifacts.schemas import ArtifactOut
from app.artifacts.streaming import ChunkWriter, copy_multipart, copy_raw, declared_length
from app.deps import Reader, VaultDep
from app.edge.routes import GuardedRoute, streams_body
from app.errors import BadRequest, PayloadTooLarge
from app.text import MultiLine
from app.verification import service
from app.verification.schemas import (
    ArtifactVerificationOut,
    CheckOut,
    DigestIn,
    HeldOut,
    Holding,
)
from storage.hashing import MultiHasher

router = APIRouter(prefix="/v1", tags=["verification"], route_class=GuardedRoute)

#: a hash-only question is a few dozen bytes of JSON
_MAX_JSON = 4096


@router.get("/artifacts/{artifact_id}/verification", response_model=ArtifactVerificationOut)
def verify_artifact(
    artifact_id: str,
    vault: VaultDep,
    who: Reader,
    reason: Annotated[MultiLine | None, Query(min_length=1, max_length=2000)] = None,
) -> ArtifactVerificationOut:
    """Re-read the stored bytes, re-hash them and run the `verify/` checks on the item's
    custody chain and latest receipt. The read is itself a sealed access event."""
    art, checks, receipt = service.verify_stored(vault, who, artifact_id, reason)
    return ArtifactVerificationOut(
        artifact=ArtifactOut.model_validate(art),
        ok=checks.ok,
        checks=[CheckOut(name=r.name, state=r.state, detail=r.detail) for r in checks.rows],
        receipt=receipt.to_json(),
    )


class _Hasher:
    """A body sink that keeps nothing but the digests."""

    def __init__(self) -> None:
        self.digests = MultiHasher()

    def write(self, data: bytes) -> None:
        self.digests.update(data)


async def _digest_of(request: Request) -> str:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_JSON:
            raise PayloadTooLarge(f"a JSON question is at most {_MAX_JSON} bytes")
    try:
        return DigestIn.model_validate_json(body).sha256
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(f"{where}: {first['msg']}") from None


@router.post("/verify", response_model=HeldOut)
@streams_body
async def held(request: Request, vault: VaultDep, who: Reader) -> HeldOut:
    """Does the vault hold this file, and where? Send the bytes (raw body, or multipart
    with a `file` part), hashed while streaming and never stored; or JSON
    `{"sha256": "..."}`. Answers each artifact you may see that holds them, with the
    receipt of its ingest. Nothing is recorded: no evidence is touched."""
    limit = vault.settings.max_upload_bytes
    declared = declared_length(request, limit)
    content_type = request.headers.get("content-type", "application/octet-stream").lower()
    sent: MultiHasher | None = None
    try:
        if content_type.startswith("application/json"):
            sha256 = await _digest_of(request)
        else:
            sink = _Hasher()
            writer: ChunkWriter[_Hasher] = ChunkWriter(sink, limit)
            if content_type.startswith("multipart/form-data"):
                result, _ = await copy_multipart(
                    request.stream(), content_type, "file", lambda f, n, t: writer
                )
                if not result.file_seen:
                    raise BadRequest("multipart body has no 'file' part")
            else:
                await copy_raw(request.stream(), writer)
                if declared is not None and writer.size != declared:
                    raise BadRequest(
                        f"body has {writer.size} bytes but Content-Length said {declared}"
                    )
            await writer.drain()
            if writer.size == 0:
                raise BadRequest("empty body: send the file's bytes, or JSON with its sha256")
            sent = sink.digests
            sha256 = sent.digests().sha256
    except ClientDisconnect:
        raise BadRequest("client disconnected before the body was complete") from None
    found = await run_in_threadpool(service.find_holdings, vault, who, sha256)
    d = sent.digests() if sent is not None else None
    return HeldOut(
        sha256=sha256,
        size=d.size if d else None,
        sha1=d.sha1 if d else None,
        md5=d.md5 if d else None,
        held=bool(found),
        matches=[
            Holding(artifact=ArtifactOut.model_validate(h.artifact), receipt=h.receipt.to_json())
            for h in found
        ],
    )
