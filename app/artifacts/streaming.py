"""Moving request bodies into an object-store upload without ever holding them whole.

Chunks are gathered to ~1 MiB and handed to a worker thread. One write is in flight
while the next MiB is received, so hashing (which releases the GIL) and disk or S3
writes overlap with the network instead of alternating with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from fastapi.concurrency import run_in_threadpool
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

from app.errors import BadRequest, LengthRequired, PayloadTooLarge

FLUSH = 1 << 20
MAX_FIELD = 64 * 1024
MAX_FIELDS = 32


def declared_length(request: Request, limit: int) -> int | None:
    """The body's declared length (None when chunked), refused early when over `limit`."""
    raw = request.headers.get("content-length")
    if raw is None:
        if "chunked" not in request.headers.get("transfer-encoding", "").lower():
            raise LengthRequired("send Content-Length or use chunked transfer encoding")
        return None
    if not raw.isdigit():
        raise BadRequest("Content-Length is not a number")
    length = int(raw)
    if length > limit:
        raise PayloadTooLarge(f"a body of {length} bytes exceeds the {limit}-byte limit")
    return length


class Sink(Protocol):
    """Where a body's bytes go: a store upload, or only a hasher."""

    def write(self, data: bytes) -> None: ...


S = TypeVar("S", bound=Sink)


class ChunkWriter(Generic[S]):
    """Buffers small chunks and writes them to the upload from a worker thread.

    Double-buffered: at most one ~1 MiB write runs in its thread while the next buffer
    fills, so memory stays at about two buffers whatever the size. Writes reach the
    upload strictly in order, one at a time (the upload is not thread-safe).

    `flush()` waits for every byte to be written and raises a write's error. On any
    exit path, `await drain()` before using `upload` again (commit, abort): a write still
    running in its thread must not race them.
    """

    def __init__(self, upload: S, limit: int) -> None:
        self.upload = upload
        self.limit = limit
        self.size = 0
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._inflight: asyncio.Future[None] | None = None

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(f"artifact exceeds the {self.limit}-byte limit")
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= FLUSH:
            await self._submit()

    async def flush(self) -> None:
        if self._chunks:
            await self._submit()
        await self._settle()

    async def drain(self) -> None:
        """Wait for an in-flight write to end, without raising its error (failure paths)."""
        task = self._inflight
        if task is None:
            return
        if not task.done():
            await asyncio.wait({task})
        self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved: already raised to the body loop, or moot now

    async def _submit(self) -> None:
        chunks, self._chunks, self._buffered = self._chunks, [], 0
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)  # one copy at most
        await self._settle()  # the previous write must finish (and succeed) first
        self._inflight = asyncio.ensure_future(run_in_threadpool(self.upload.write, data))

    async def _settle(self) -> None:
        task = self._inflight
        if task is None:
            return
        try:
            await task
        finally:
            if task.done():
                self._inflight = None


async def copy_raw(stream: AsyncIterator[bytes], writer: ChunkWriter[Any]) -> None:
    async for chunk in stream:
        if chunk:
            await writer.write(chunk)
    await writer.flush()


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None
    value: bytearray = field(default_factory=bytearray)


@dataclass
class MultipartResult:
    fields: dict[str, str]
    file_name: str | None
    file_type: str | None
    file_seen: bool


async def copy_multipart(
    stream: AsyncIterator[bytes],
    content_type: str,
    file_field: str,
    on_file_start: Callable[[dict[str, str], str | None, str | None], ChunkWriter[S]],
) -> tuple[MultipartResult, ChunkWriter[S] | None]:
    """Streams the one file part into the writer made by `on_file_start`.

    Text fields must come before the file (browsers send form fields in document
    order), because the upload's checks are fixed when the file starts.
    """
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart body without a boundary")
    fields: dict[str, str] = {}
    result = MultipartResult(fields, None, None, False)
    writer: ChunkWriter[S] | None = None
    current = _Part()
    header_field = bytearray()
    header_value = bytearray()
    pending: list[bytes] = []
    errors: list[Exception] = []
    starting: list[tuple[dict[str, str], str | None, str | None]] = []

    def on_part_begin() -> None:
        nonlocal current
        current = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        # Latin-1 maps bytes 1:1, so parse_options_header (which re-encodes as latin-1)
        # hands back the sent bytes; names are decoded as UTF-8 once, in _part_name.
        current.headers[header_field.decode("latin-1").lower()] = header_value.decode("latin-1")
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        disp, opts = parse_options_header(current.headers.get("content-disposition", ""))
        if disp != b"form-data" or b"name" not in opts:
            errors.append(BadRequest("multipart part without a form-data name"))
            return
        if b"filename" in opts and "\\" in current.headers["content-disposition"]:
            # The parser turns an IE-style 'C:\dir\name' into 'name': refuse instead of
            # recording a name the collector did not send.
            errors.append(BadRequest("file name must not contain path separators"))
            return
        try:
            current.name = opts[b"name"].decode("utf-8")
            if b"filename" in opts:
                current.filename = opts[b"filename"].decode("utf-8")
        except UnicodeDecodeError:
            errors.append(BadRequest("multipart part name or file name is not UTF-8"))
            return
        current.content_type = current.headers.get("content-type")
        if current.name == file_field:
            if result.file_seen:
                errors.append(BadRequest(f"more than one {file_field!r} part"))
                return
            result.file_seen = True
            result.file_name = current.filename
            result.file_type = current.content_type
            # Started after parser.write returns, in a worker thread: starting plans the
            # ingest (database reads) and opens the store upload, which must not block
            # the event loop inside a parser callback.
            starting.append((dict(fields), current.filename, current.content_type))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current.name == file_field:
            pending.append(bytes(data[start:end]))
        else:
            current.value.extend(data[start:end])
            if len(current.value) > MAX_FIELD:
                errors.append(BadRequest(f"form field {current.name!r} is too large"))

    def on_part_end() -> None:
        if current.name is None:
            return
        if current.name == file_field:
            return
        if result.file_seen:
            # The upload's checks (declared sha256, signature) were fixed when the file
            # started; accepting a later field would silently ignore what it declares.
            errors.append(BadRequest(f"form field {current.name!r} comes after the file part"))
            return
        if len(fields) >= MAX_FIELDS:
            errors.append(BadRequest("too many form fields"))
            return
        try:
            fields[current.name] = current.value.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(BadRequest(f"form field {current.name!r} is not UTF-8"))

    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": on_part_begin,
                "on_header_field": on_header_field,
                "on_header_value": on_header_value,
                "on_header_end": on_header_end,
                "on_headers_finished": on_headers_finished,
                "on_part_data": on_part_data,
                "on_part_end": on_part_end,
            },
        )
    except Exception as exc:  # e.g. a boundary longer than the parser accepts
        raise BadRequest(f"unusable multipart boundary: {exc}") from exc
    async for chunk in stream:
        try:
            parser.write(chunk)
        except Exception as exc:
            raise BadRequest(f"malformed multipart body: {exc}") from exc
        if errors:
            raise errors[0]
        if starting:
            writer = await run_in_threadpool(on_file_start, *starting.pop())
        if writer is not None:
            for piece in pending:
                await writer.write(piece)
        pending.clear()
    try:
        parser.finalize()
    except Exception as exc:
        raise BadRequest(f"malformed multipart body: {exc}") from exc
    if errors:
        raise errors[0]
    if parser.state != MultipartState.END:
        raise BadRequest("multipart body ended before its closing boundary")
    if writer is not None:
        await writer.flush()
    return result, writer
