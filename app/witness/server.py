"""`locard witness-server`: the C2SP tlog-witness HTTP interface over `Witness`."""

from __future__ import annotations

import hashlib

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.witness.service import TEXT, Witness

#: a request is a few proof lines and one checkpoint; anything larger is not one
MAX_BODY = 64 * 1024


def create_witness_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="Locard witness", openapi_url=None, docs_url=None, redoc_url=None)
    by_hash = {hashlib.sha256(origin.encode()).hexdigest(): origin for origin in witness.logs}

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _answer(400, b"request too large\n")
        # Signing and the SQLite commit are blocking: off the event loop.
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        return _answer(answer.status, answer.body, answer.content_type)

    @app.get("/{origin_hash}/checkpoint")
    def checkpoint(origin_hash: str) -> Response:
        origin = by_hash.get(origin_hash)
        latest = witness.state.latest(origin) if origin else None
        if latest is None:
            return _answer(404, b"not cosigned\n")
        return _answer(200, latest.note)

    return app


def _answer(status: int, body: bytes, content_type: str = TEXT) -> Response:
    # The header is set as given: `media_type` would add a charset to text/x.tlog.size.
    return Response(body, status, headers={"Content-Type": content_type})
