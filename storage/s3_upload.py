"""Streaming upload into an S3 Object Lock bucket, a bounded number of parts in memory.

The content key is only known once the last byte is hashed, so bytes go where they can:

- Up to one part in total: kept in memory, then one PutObject straight to the content
  key, with ChecksumSHA256, the lock settings and If-None-Match.
- Larger, SHA-256 declared in advance: a multipart upload straight to the content key,
  locked from the start. A multipart upload is invisible until completed; a wrong
  digest aborts it. If the content is already stored, the bytes are hashed, not sent.
  (S3 has no whole-object SHA-256 for multipart uploads, only per part and composite;
  the server checks every part, we check the whole before completing.)
- Larger, SHA-256 unknown: a multipart upload to `staging/<uuid>`, then a part-by-part
  UploadPartCopy into the content key, whose CreateMultipartUpload carries the lock.
  CopyObject is not used: SeaweedFS 4.48 silently drops Object Lock settings (and the
  bucket default) on CopyObject, which would leave evidence deletable.

Completion at the content key always uses If-None-Match, so a concurrent identical
upload cannot create a second version; the loser reports `created=False`.

Parts go up (and staged parts are copied) on the store's part threads, up to
`store.part_concurrency` at once per upload: one part at a time leaves the link idle
while each request is answered. Each part in flight holds its own buffer, so an upload
holds at most `part_concurrency + 1` part buffers whatever its size.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections import deque
from concurrent.futures import Future, wait
from contextlib import suppress
from typing import TYPE_CHECKING

from storage.base import Retention, StoredObject
from storage.errors import StorageError, StorageMisconfigured
from storage.hashing import Digests
from storage.keys import content_key
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
    STAGED = "staged"  # multipart upload at staging/<uuid>


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
        self._staging_key = f"staging/{uuid.uuid4().hex}"

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
        self._multipart = Multipart.create(store.client, store.bucket, self._staging_key, None)
        return _Mode.STAGED

    # -- publishing -------------------------------------------------------------------

    def _publish(self, digests: Digests) -> StoredObject:
        key = content_key(digests.sha256)
        try:
            created = self._send_rest(key)
        finally:
            self._release_buffers()
        if not created:
            self._store.confirm_existing(key, digests.size, self._retention())
        return StoredObject(key=key, digests=digests, created=created)

    def _send_rest(self, key: str) -> bool:
        """Send what is still buffered and finish; False if the content was already stored."""
        if self._mode is _Mode.BUFFERED:
            data = bytes(self._buffer.view())
            return self._store.put_new(key, data, b64_sha256(data), self._retention())
        if self._mode is _Mode.PRESENT:
            return False
        multipart = self._multipart
        if multipart is None:
            raise StorageError(f"upload in mode {self._mode.value} has no multipart upload")
        if self._buffer:
            self._send(multipart, self._buffer)
        self._finish_parts()
        if self._mode is _Mode.STAGED:
            return self._publish_staged(multipart, key)
        created = multipart.complete(exclusive=True) is not None
        # A no-op after a completion; frees the parts after If-None-Match refused.
        multipart.abort()
        return created

    def _publish_staged(self, staged: Multipart, key: str) -> bool:
        store = self._store
        version = staged.complete(exclusive=False)
        if not version:
            raise StorageMisconfigured(
                f"bucket {store.bucket} returned no VersionId: it is not versioned"
            )
        if store.exists(key):
            created = False
        else:
            target = Multipart.create(store.client, store.bucket, key, self._retention())
            try:
                pool = store.part_pool()
                copies = [
                    pool.submit(target.copy_part, self._staging_key, version, part)
                    for part in staged.parts
                ]
                try:
                    for copied in copies:
                        target.add(copied.result())
                finally:
                    for copy in copies:
                        copy.cancel()
                    wait(copies)
                created = target.complete(exclusive=True) is not None
            except BaseException:
                with suppress(StorageError):
                    target.abort()
                raise
            # A no-op after a completion; frees the parts after If-None-Match refused.
            target.abort()
        self._remove_staged(staged, quiet=True)
        return created

    # -- discarding -------------------------------------------------------------------

    def _remove_staged(self, staged: Multipart, *, quiet: bool) -> None:
        if staged.version_id:
            try:
                self._store.delete_version(self._staging_key, staged.version_id)
            except StorageError as exc:
                if not quiet:
                    raise
                log.warning(
                    "staging %s left behind (cleanup_staging will remove it): %s",
                    self._staging_key,
                    exc,
                )
            staged.version_id = None

    def _release_buffers(self) -> None:
        self._stop_parts()
        self._buffer.release()
        self._spare.clear()

    def _discard(self) -> None:
        self._release_buffers()
        multipart = self._multipart
        if multipart is None:
            return
        multipart.abort()
        if self._mode is _Mode.STAGED:
            self._remove_staged(multipart, quiet=False)
