"""Write-once object store on S3 with Object Lock (boto3).

Protection is the server's job: objects are written with a lock mode and retain-until
date, legal holds and retention changes are S3 calls, and `delete()` asks the server to
delete a specific version so that Object Lock, not this code, decides.

A key's object is its *original* version: writes use If-None-Match, so the store only
ever creates a key's first version, and that version is locked. Anyone else holding
write access can still PUT a newer version or a delete marker (Object Lock protects
versions, not keys). So every read, legal hold and retention change goes to the oldest
version by id, never to "latest": a forged overwrite cannot shadow evidence or a sealed
seal, and a delete marker cannot hide it. `shadowed_objects()` lists such foreign
versions for the audit. The original's version id is learnt from ListObjectVersions
(versions come newest first) and cached: a locked version never changes.

Do not give the bucket a default retention rule: it would also lock the versions of the
one mutable key (the tlog checkpoint) and anything an earlier release staged under
`staging/`, which could then not be cleaned up until the rule expires. Retention comes
from the store (`default_retention_days`) or from each call.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from storage.base import (
    READ_BYTES_LIMIT,
    Protection,
    Retention,
    ShadowedObject,
    Upload,
    check_extension,
    merge_retention,
    resolve_range,
)
from storage.errors import (
    IntegrityError,
    InvalidArgument,
    ObjectExists,
    ObjectNotFound,
    RetentionViolation,
    SizeLimitExceeded,
    StorageError,
    StorageMisconfigured,
    StorageUnavailable,
)
from storage.keys import (
    MUTABLE_KEYS,
    RESERVED_PREFIXES,
    check_key,
    check_mutable,
    check_named_write,
    check_prefix,
)
from storage.s3_client import (
    CONFLICT_CODES,
    NOT_FOUND_CODES,
    PRECONDITION_CODES,
    error_code,
    make_s3_client,
    s3_errors,
)
from storage.s3_multipart import b64_sha256
from storage.s3_upload import S3Upload

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import (
        DeleteMarkerEntryTypeDef,
        HeadObjectOutputTypeDef,
        ObjectVersionTypeDef,
        PutObjectRequestTypeDef,
    )

log = logging.getLogger(__name__)

MiB = 1 << 20
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB

__all__ = ["S3WormStore", "make_s3_client"]

#: threads sending parts for all of a store's uploads (within the client's connection pool)
PART_THREADS = 8

#: original versions remembered per store (id and size: ~200 bytes each)
ORIGINALS_CACHED = 100_000


@dataclass(frozen=True)
class _Original:
    version: str
    size: int


@dataclass
class _KeyVersions:
    """Every version and delete marker of one key, newest first (the listing's order)."""

    key: str
    versions: list[ObjectVersionTypeDef] = field(default_factory=list)
    markers: list[DeleteMarkerEntryTypeDef] = field(default_factory=list)

    def original(self) -> _Original | None:
        if not self.versions:
            return None
        oldest = self.versions[-1]
        return _Original(oldest.get("VersionId", "null"), oldest.get("Size", 0))

    def shadowed(self) -> ShadowedObject | None:
        if not self.versions or (len(self.versions) == 1 and not self.markers):
            return None
        oldest = self.versions[-1]
        same = (oldest.get("Size"), oldest.get("ETag"))
        later = self.versions[:-1]
        return ShadowedObject(
            key=self.key,
            original_version=oldest.get("VersionId", "null"),
            foreign_versions=tuple(
                v.get("VersionId", "") for v in later if (v.get("Size"), v.get("ETag")) != same
            ),
            duplicate_versions=tuple(
                v.get("VersionId", "") for v in later if (v.get("Size"), v.get("ETag")) == same
            ),
            delete_markers=tuple(m.get("VersionId", "") for m in self.markers),
            hidden=any(m.get("IsLatest") for m in self.markers),
        )


class _OriginalCache:
    """key -> original version, least recently used evicted. Thread-safe."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, _Original] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> _Original | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, original: _Original) -> None:
        with self._lock:
            self._entries[key] = original
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class S3WormStore:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        part_size: int = 16 * MiB,
        default_retention_days: int | None = None,
        part_concurrency: int = 4,
    ) -> None:
        if part_concurrency < 1:
            raise InvalidArgument("part_concurrency must be at least 1")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise InvalidArgument(f"part_size must be between 5 MiB and 5 GiB, not {part_size}")
        if default_retention_days is not None and default_retention_days <= 0:
            raise InvalidArgument("default_retention_days must be positive")
        self.client = client
        self.bucket = bucket
        self.part_size = part_size
        self.default_retention_days = default_retention_days
        #: parts one upload keeps in flight (each holds a part-sized buffer)
        self.part_concurrency = part_concurrency
        self._originals = _OriginalCache(ORIGINALS_CACHED)
        self._lock = threading.Lock()
        #: the version of each mutable key this store wrote last (to remove on replace)
        self._mutable_versions: dict[str, str] = {}
        self._part_pool: ThreadPoolExecutor | None = None
        self._part_pool_lock = threading.Lock()

    def part_pool(self) -> ThreadPoolExecutor:
        """Threads that send and copy parts, shared by this store's uploads. A part task
        never waits on another task, so uploads cannot deadlock on the pool's size."""
        with self._part_pool_lock:
            if self._part_pool is None:
                self._part_pool = ThreadPoolExecutor(
                    max_workers=PART_THREADS, thread_name_prefix="locard-s3-part"
                )
            return self._part_pool

    @classmethod
    def connect(
        cls,
        endpoint_url: str | None,
        bucket: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        part_size: int = 16 * MiB,
        default_retention_days: int | None = None,
    ) -> S3WormStore:
        """Build the client and the store in one go (ensure_bucket() is still up to you)."""
        client = make_s3_client(endpoint_url, access_key, secret_key, region)
        return cls(
            client, bucket, part_size=part_size, default_retention_days=default_retention_days
        )

    def __repr__(self) -> str:
        return f"S3WormStore({self.client.meta.endpoint_url!r}, {self.bucket!r})"

    def default_retention(self) -> Retention | None:
        if self.default_retention_days is None:
            return None
        until = datetime.now(UTC) + timedelta(days=self.default_retention_days)
        return Retention("COMPLIANCE", until)

    def _errors(
        self, what: str, key: str | None = None, *, refused: bool = False
    ) -> AbstractContextManager[None]:
        # `refused`: AccessDenied is Object Lock saying no, not a permissions problem.
        return s3_errors(
            self.client,
            what=what,
            bucket=self.bucket,
            key=key,
            denied=RetentionViolation if refused else StorageMisconfigured,
        )

    # -- bucket -----------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if missing; refuse one without it."""
        with self._errors("checking bucket"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                self._create_bucket()
        with self._errors("reading Object Lock configuration"):
            try:
                response = self.client.get_object_lock_configuration(Bucket=self.bucket)
                lock = response.get("ObjectLockConfiguration", {})
            except ClientError as exc:
                if error_code(exc) != "ObjectLockConfigurationNotFoundError":
                    raise
                lock = {}
        if lock.get("ObjectLockEnabled") != "Enabled":
            raise StorageMisconfigured(
                f"bucket {self.bucket} exists without Object Lock; it cannot hold evidence "
                "(Object Lock can only be chosen when a bucket is created)"
            )
        if "DefaultRetention" in lock.get("Rule", {}):
            log.warning(
                "bucket %s has a default retention rule: checkpoint versions will be locked too",
                self.bucket,
            )

    def _create_bucket(self) -> None:
        region = self.client.meta.region_name
        try:
            if region and region != "us-east-1":
                self.client.create_bucket(
                    Bucket=self.bucket,
                    ObjectLockEnabledForBucket=True,
                    CreateBucketConfiguration={
                        "LocationConstraint": cast("BucketLocationConstraintType", region)
                    },
                )
            else:
                self.client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
        except ClientError as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise

    # -- object metadata --------------------------------------------------------------

    def _key_versions(self, prefix: str) -> Iterator[_KeyVersions]:
        """Versions and delete markers of every key under `prefix`, one key at a time, in
        key order; each key's entries newest first. Remembers each key's original."""
        pending: dict[str, _KeyVersions] = {}

        def entry(key: str) -> _KeyVersions:
            found = pending.get(key)
            if found is None:
                found = pending[key] = _KeyVersions(key)
            return found

        with self._errors("listing versions of", prefix or None):
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for version in page.get("Versions", []):
                    entry(version.get("Key", "")).versions.append(version)
                for marker in page.get("DeleteMarkers", []):
                    entry(marker.get("Key", "")).markers.append(marker)
                # Keys before the next page's first key are complete.
                resume = page.get("NextKeyMarker") if page.get("IsTruncated") else None
                for key in sorted(pending):
                    if resume is not None and key >= resume:
                        break
                    yield self._seen(pending.pop(key))
        for key in sorted(pending):
            yield self._seen(pending.pop(key))

    def _seen(self, found: _KeyVersions) -> _KeyVersions:
        original = found.original()
        if original is not None:
            self._originals.put(found.key, original)
        return found

    def _original(self, key: str) -> _Original | None:
        """The key's oldest version (the one the store wrote), or None if it has none."""
        cached = self._originals.get(key)
        if cached is not None:
            return cached
        for found in self._key_versions(key):
            if found.key == key:
                return found.original()
            if found.key > key:
                break
        return None

    def _require_original(self, key: str) -> _Original:
        original = self._original(check_key(key))
        if original is None:
            raise ObjectNotFound(key)
        if not original.version or original.version == "null":
            raise StorageMisconfigured(f"{key} has no version id: bucket is not versioned")
        return original

    def _head(self, key: str) -> HeadObjectOutputTypeDef:
        """HEAD of the key's original version."""
        original = self._require_original(key)
        with self._errors("reading metadata of", key):
            try:
                return self.client.head_object(
                    Bucket=self.bucket, Key=key, VersionId=original.version
                )
            except ClientError as exc:
                if error_code(exc) in NOT_FOUND_CODES:
                    self._originals.forget(key)
                raise

    def _version(self, key: str) -> str:
        return self._require_original(key).version

    def exists(self, key: str) -> bool:
        return self._original(check_key(key)) is not None

    def size(self, key: str) -> int:
        return self._require_original(key).size

    def protection(self, key: str) -> Protection:
        return _protection(self._head(key))

    def shadowed_objects(self, prefix: str) -> Iterator[ShadowedObject]:
        """Keys under `prefix` holding versions or delete markers besides the original."""
        check_prefix(prefix)
        for found in self._key_versions(prefix):
            if found.key.startswith(RESERVED_PREFIXES) or found.key in MUTABLE_KEYS:
                continue
            shadowed = found.shadowed()
            if shadowed is not None:
                yield shadowed

    # -- writing ----------------------------------------------------------------------

    def begin_upload(
        self,
        *,
        expected_sha256: str | None = None,
        max_size: int | None = None,
        retention: Retention | None = None,
    ) -> Upload:
        return S3Upload(
            self, expected_sha256=expected_sha256, max_size=max_size, retention=retention
        )

    def put_new(self, key: str, data: bytes, checksum: str, retention: Retention | None) -> bool:
        """PutObject only if `key` is free. False if it exists (nothing was written).

        Shared by put_bytes and small uploads; not part of the ObjectStore interface.
        """
        request: PutObjectRequestTypeDef = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": data,
            "ChecksumSHA256": checksum,
            "ContentType": "application/octet-stream",
            "IfNoneMatch": "*",
        }
        if retention is not None:
            request["ObjectLockMode"] = retention.mode
            request["ObjectLockRetainUntilDate"] = retention.until
        with self._errors("writing", key):
            try:
                self.client.put_object(**request)
                return True
            except ClientError as exc:
                code = error_code(exc)
                if code in PRECONDITION_CODES:
                    return False
                if code in CONFLICT_CODES:
                    if self._original(key) is None:
                        raise StorageUnavailable(
                            f"{key}: a concurrent write is in progress; retry"
                        ) from exc
                    return False
                if code != "NotImplemented":
                    raise
            # A server without conditional writes: check, then write. Versioning keeps
            # the first version intact if another writer slips in between.
            log.warning("s3 server does not support If-None-Match; falling back to a listing")
            if self._original(key) is not None:
                return False
            del request["IfNoneMatch"]
            self.client.put_object(**request)
            return True

    def confirm_existing(self, key: str, size: int, retention: Retention | None) -> None:
        """For content that was already stored: check it and keep it at least as long."""
        head = self._head(key)
        if head["ContentLength"] != size:
            raise IntegrityError(
                f"{key} holds {head['ContentLength']} bytes but its content is {size} bytes"
            )
        if retention is not None:
            self._retain_at_least(key, head, retention)

    def _retain_at_least(
        self, key: str, head: HeadObjectOutputTypeDef, retention: Retention
    ) -> None:
        merged = merge_retention(_protection(head).retention, retention)
        if merged is not None:
            self._put_retention(key, head["VersionId"], merged)

    def _put_retention(self, key: str, version: str, retention: Retention) -> None:
        with self._errors("setting retention of", key, refused=True):
            self.client.put_object_retention(
                Bucket=self.bucket,
                Key=key,
                VersionId=version,
                Retention={"Mode": retention.mode, "RetainUntilDate": retention.until},
            )

    def put_bytes(self, key: str, data: bytes, *, retention: Retention | None = None) -> None:
        check_key(key)
        check_named_write(key, hashlib.sha256(data).hexdigest())
        if retention is not None:
            retention.require_future()
        effective = retention or self.default_retention()
        if self._original(key) is None and self.put_new(key, data, b64_sha256(data), effective):
            return
        if self.read_bytes(key) != data:
            raise ObjectExists(key)
        if effective is not None:
            self._retain_at_least(key, self._head(key), effective)

    def replace_mutable(self, key: str, data: bytes) -> None:
        """Write a new version of one of the few mutable keys (`storage.keys.MUTABLE_KEYS`),
        never under retention, then remove the version this store wrote before (so the
        bucket keeps one, not one per publication)."""
        check_mutable(key)
        with self._errors("writing", key):
            out = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ChecksumSHA256=b64_sha256(data),
                ContentType="text/plain; charset=utf-8",
            )
        with self._lock:
            previous = self._mutable_versions.get(key)
            self._mutable_versions[key] = out.get("VersionId", "")
        if previous:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=previous)
            except ClientError as exc:  # a default retention rule locks it: harmless
                log.info("could not remove the previous version of %s: %s", key, exc)

    def read_mutable(self, key: str) -> bytes | None:
        check_mutable(key)
        try:
            with self._errors("reading", key):
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ObjectNotFound:
            return None

    # -- reading ----------------------------------------------------------------------

    def read_bytes(self, key: str) -> bytes:
        original = self._require_original(key)
        if original.size > READ_BYTES_LIMIT:
            raise SizeLimitExceeded(READ_BYTES_LIMIT, f"{key} ({original.size} bytes)")
        return b"".join(self._read_range(key, original.version, 0, original.size, 1 << 20))

    def open_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        original = self._require_original(key)
        stop = resolve_range(start, end, original.size, chunk_size)
        return self._read_range(key, original.version, start, stop, chunk_size)

    def _read_range(
        self, key: str, version: str, start: int, stop: int, chunk_size: int
    ) -> Iterator[bytes]:
        if start == stop:
            return iter(())
        with self._errors("reading", key):
            # The original version, by id: never whatever is newest at the server. Asked
            # for now, not on first iteration, so a missing or unreachable object fails
            # before a caller has started answering (an HTTP response cannot then
            # change its status).
            try:
                response = self.client.get_object(
                    Bucket=self.bucket,
                    Key=key,
                    VersionId=version,
                    Range=f"bytes={start}-{stop - 1}",
                )
            except ClientError as exc:
                if error_code(exc) in NOT_FOUND_CODES:
                    self._originals.forget(key)
                raise
        return self._chunks(key, response["Body"], stop - start, chunk_size)

    def _chunks(
        self, key: str, body: StreamingBody, expected: int, chunk_size: int
    ) -> Iterator[bytes]:
        received = 0
        try:
            with self._errors("reading", key):
                for chunk in body.iter_chunks(chunk_size):
                    received += len(chunk)
                    yield chunk
        finally:
            body.close()
        if received != expected:
            raise IntegrityError(f"{key}: got {received} bytes of a {expected}-byte range")

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Keys that hold an original version, including any a delete marker hides."""
        check_prefix(prefix)
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[str]:
        for found in self._key_versions(prefix):
            if found.versions and not (
                found.key.startswith(RESERVED_PREFIXES) or found.key in MUTABLE_KEYS
            ):
                yield found.key

    # -- protection -------------------------------------------------------------------

    def set_legal_hold(self, key: str, on: bool) -> None:
        version = self._version(key)
        with self._errors("setting legal hold on", key, refused=True):
            self.client.put_object_legal_hold(
                Bucket=self.bucket,
                Key=key,
                VersionId=version,
                LegalHold={"Status": "ON" if on else "OFF"},
            )

    def extend_retention(self, key: str, retention: Retention) -> None:
        retention.require_future()
        head = self._head(key)
        # The server refuses this too; checking first gives the same answer on any server.
        check_extension(key, _protection(head).retention, retention)
        self._put_retention(key, head["VersionId"], retention)

    def delete(self, key: str) -> None:
        """Delete the original version. Only the server's Object Lock decides."""
        self.delete_version(key, self._version(key))

    def delete_version(self, key: str, version: str) -> None:
        with self._errors("deleting", key, refused=True):
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
        self._originals.forget(key)

    def cleanup_staging(self, older_than_s: float = 0) -> int:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        return self._abort_stale_uploads(cutoff) + self._delete_stale_staging(cutoff)

    def _abort_stale_uploads(self, cutoff: datetime) -> int:
        aborted = 0
        with self._errors("listing multipart uploads"):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket):
                for upload in page.get("Uploads", []):
                    key = upload.get("Key", "")
                    # Ours are objects/ uploads (and staging/ ones left by earlier releases).
                    if not key.startswith(("staging/", "objects/")):
                        continue
                    if upload.get("Initiated", cutoff) > cutoff:
                        continue
                    try:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                        )
                        aborted += 1
                    except ClientError as exc:
                        if error_code(exc) != "NoSuchUpload":
                            raise
        return aborted

    def _delete_stale_staging(self, cutoff: datetime) -> int:
        deleted = 0
        with self._errors("listing staging"):
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix="staging/"):
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    if item.get("LastModified", cutoff) > cutoff:
                        continue
                    try:
                        self.delete_version(item["Key"], item["VersionId"])
                        deleted += 1
                    except StorageError as exc:
                        log.warning("cannot remove %s: %s", item["Key"], exc)
        return deleted


def _protection(head: HeadObjectOutputTypeDef) -> Protection:
    mode = head.get("ObjectLockMode")
    until = head.get("ObjectLockRetainUntilDate")
    retention = Retention(mode, until.astimezone(UTC)) if mode and until else None
    return Protection(retention, head.get("ObjectLockLegalHoldStatus") == "ON")
