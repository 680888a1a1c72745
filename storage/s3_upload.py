"""Streaming upload into an S3 Object Lock bucket, a bounded number of parts in memory.

The content key is only known once the last byte is hashed, so bytes go where they can:

- Up to one part in total: kept in memory, then one PutObject straight to the content
  key, with ChecksumSHA256, the lock settings and If-None-Match.
- Larger, SHA-256 declared in advance: a multipart upload straight to the content key,
  locked from the start. A multipart upload is invisible until completed; a wrong
  digest aborts it. If the content is already stored, the bytes are hashed, not sent.
  (S3 has no whole-object SHA-256 for multipart uploads, only per part and composite;
  the server checks every part, we check the whole before completing.)
- Larger, SHA-256 unknown: a multipart upload to the upload's own key
  (`objects/upload/<token>`), locked from the start like the declared case. Once the
  last byte is hashed: if the content is already stored at its content key, the upload
  is aborted (nothing of it ever becomes visible) and the existing object is used;
  otherwise it is completed where it is. Every byte is written once. (Until 2026-12 it
  was staged and then copied part by part into the content key, so the S3 server wrote
  every byte twice, for half the throughput; S3 has no rename.) The key is sealed in
  the ingest event, so nothing derives it from the digest.

Completion at the content key always uses If-None-Match, so a concurrent identical
upload cannot create a second version; the loser reports `created=False`.

Parts go up on the store's part threads, up to `store.part_concurrency` at once per
upload: one part at a time leaves the link idle while each request is answered. Each
part in flight holds its own buffer, so an upload holds at most `part_concurrency + 1`
part buffers whatever its size.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections import deque
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING

from storage.base import Retention, StoredObject
from storage.errors import StorageError
from storage.hashing import Digests
from storage.keys import content_key, upload_key
from storage.partbuffer import PartBuffer
from storage.s3_multipart import Multipart, Part, b64_sha256
from storage.upload import BaseUpload

if TYPE_CHECKING:
    from storage.s3 import S3WormStore

log = logging.getLogger(__name__)

MAX_PARTS = 10_000


class _Mode(enum.Enum):
    BUFFERED = "buffered"  # nothing sent yet
    DIRECT = "direct"  # multipart upload at the (declared) content key
    PRESENT = "present"  # declared content already stored: hash only
    OWN_KEY = "own key"  # multipart upload at objects/upload/<token>


class S3Upload(BaseUpload):
    def __init__(
        self,
        store: S3WormStore,
        *,
        expected_sha256: str | None,
        max_size: int | None,
        retention: Retention | None,
    ) -> None:
        super().__init__(
            expected_sha256=expected_sha256,
            max_size=max_size,
            retention=retention,
            backend_limit=store.part_size * MAX_PARTS,
        )
        self._store = store
        self._buffer = PartBuffer(store.part_size)
        self._spare: list[PartBuffer] = []
        self._inflight: deque[tuple[Future[Part], PartBuffer]] = deque()
        self._next_part = 1
        self._offset = 0
        self._mode = _Mode.BUFFERED
        self._multipart: Multipart | None = None
        self._own_key = upload_key(uuid.uuid4().hex)

    def _retention(self) -> Retention | None:
        return self.retention or self._store.default_retention()

    # -- writing ----------------------------------------------------------------------

    def _append(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            # Send a full part only when more bytes follow, so an object of exactly one
            # part still takes the single-request path.
            if self._buffer.full:
                self._flush_part()
            view = view[self._buffer.fill_from(view) :]

    def _flush_part(self) -> None:
        if self._mode is _Mode.BUFFERED:
            self._mode = self._open()
        if self._multipart is None or self._mode is _Mode.PRESENT:
            self._buffer.clear()
            return
        self._send(self._multipart, self._buffer)
        self._buffer = self._free_buffer()

    def _send(self, multipart: Multipart, buffer: PartBuffer) -> None:
        """Start sending `buffer` as the next part; it is not touched again until sent."""
        number, offset = self._next_part, self._offset
        self._next_part += 1
        self._offset += len(buffer)
        pool = self._store.part_pool()
        self._inflight.append((pool.submit(multipart.upload_part, number, offset, buffer), buffer))

    def _free_buffer(self) -> PartBuffer:
        """A buffer to fill next: a spare one, a new one while under the limit, else the
        buffer of the oldest part in flight once it is sent."""
        self._collect(block=False)
        if self._spare:
            return self._spare.pop()
        if len(self._inflight) < self._store.part_concurrency:
            return PartBuffer(self._store.part_size)
        self._collect(block=True)
        return self._spare.pop()

    def _collect(self, *, block: bool) -> None:
        """Record finished parts (raising a failed one's error); with `block`, wait for
        the oldest first."""
        multipart = self._multipart
        while self._inflight and (block or self._inflight[0][0].done()):
            future, buffer = self._inflight.popleft()
            part = future.result()
            block = False
            buffer.clear()
            self._spare.append(buffer)
            if multipart is not None:
                multipart.add(part)

    def _finish_parts(self) -> None:
        while self._inflight:
            self._collect(block=True)

    def _stop_parts(self) -> None:
        """On failure: cancel parts not started, wait for those running, keep no error."""
        for future, _ in self._inflight:
            future.cancel()
        wait([future for future, _ in self._inflight])
        self._inflight.clear()

    def _open(self) -> _Mode:
        store = self._store
        if self.expected_sha256 is not None:
            key = content_key(self.expected_sha256)
            if store.exists(key):
                return _Mode.PRESENT
            self._multipart = Multipart.create(store.client, store.bucket, key, self._retention())
            return _Mode.DIRECT
        self._multipart = Multipart.create(
            store.client, store.bucket, self._own_key, self._retention()
        )
        return _Mode.OWN_KEY

    # -- publishing -------------------------------------------------------------------

    def _publish(self, digests: Digests) -> StoredObject:
        key = content_key(digests.sha256)
        try:
            key, created = self._send_rest(key)
        finally:
            self._release_buffers()
        if not created:
            self._store.confirm_existing(key, digests.size, self._retention())
        return StoredObject(key=key, digests=digests, created=created)

    def _send_rest(self, key: str) -> tuple[str, bool]:
        """Send what is still buffered and finish: the key the bytes are at, and False if
        they were already stored there."""
        if self._mode is _Mode.BUFFERED:
            data = bytes(self._buffer.view())
            return key, self._store.put_new(key, data, b64_sha256(data), self._retention())
        if self._mode is _Mode.PRESENT:
            return key, False
        multipart = self._multipart
        if multipart is None:
            raise StorageError(f"upload in mode {self._mode.value} has no multipart upload")
        if self._buffer:
            self._send(multipart, self._buffer)
        self._finish_parts()
        if self._mode is _Mode.OWN_KEY:
            if self._store.exists(key):
                multipart.abort()
                return key, False
            key = multipart.key
        created = multipart.complete(exclusive=True) is not None
        # A no-op after a completion; frees the parts after If-None-Match refused.
        multipart.abort()
        if not created and self._mode is _Mode.OWN_KEY:
            raise StorageError(f"{key} existed before its upload completed")
        return key, created

    # -- discarding -------------------------------------------------------------------

    def _release_buffers(self) -> None:
        self._stop_parts()
        self._buffer.release()
        self._spare.clear()

    def _discard(self) -> None:
        self._release_buffers()
        if self._multipart is not None:
            self._multipart.abort()
