"""Streaming upload into an S3 Object Lock bucket, at most one part in memory.

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
"""

from __future__ import annotations

import enum
import logging
import uuid
from contextlib import suppress
from typing import TYPE_CHECKING

from storage.base import Retention, StoredObject
from storage.errors import StorageError, StorageMisconfigured
from storage.hashing import Digests
from storage.keys import content_key
from storage.partbuffer import PartBuffer
from storage.s3_multipart import Multipart, b64_sha256
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
        if self._multipart is not None and self._mode is not _Mode.PRESENT:
            self._multipart.upload(self._buffer)
        self._buffer.clear()

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
            self._buffer.release()
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
            multipart.upload(self._buffer)
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
                for part in staged.parts:
                    target.copy_part(self._staging_key, version, part)
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

    def _discard(self) -> None:
        self._buffer.release()
        multipart = self._multipart
        if multipart is None:
            return
        multipart.abort()
        if self._mode is _Mode.STAGED:
            self._remove_staged(multipart, quiet=False)
