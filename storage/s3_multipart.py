"""One S3 multipart upload with per-part CRC32C checksums, parts sent from many threads.

Every part carries its CRC32C (x-amz-checksum-crc32c), so the server rejects a part
damaged in transit (BadDigest). CRC32C rather than SHA-256: the content's SHA-256 is
computed over the whole stream anyway, and a second SHA-256 per part costs as much CPU
again, while CRC32C runs in hardware at many GB/s; it detects transit damage, and the
content's integrity rests on the whole-stream SHA-256 we check before completing.
Parts are remembered (number, ETag, checksum) for the completion, whose composite
CRC32C the server echoes is checked against the parts we sent.

`upload_part` may run on several threads at once: it only reads this object; `add`
records a finished part (from one thread).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, cast

import crc32c
from botocore.exceptions import ClientError

from storage.base import Retention
from storage.errors import IntegrityError
from storage.partbuffer import PartBuffer
from storage.s3_client import CONFLICT_CODES, PRECONDITION_CODES, error_code, s3_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        CompleteMultipartUploadRequestTypeDef,
        CreateMultipartUploadRequestTypeDef,
    )


def b64_sha256(data: bytes | memoryview) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def b64_crc32c(data: bytes | memoryview) -> str:
    return base64.b64encode(crc32c.crc32c(data).to_bytes(4, "big")).decode()


def composite_crc32c(part_checksums: list[str]) -> str:
    """S3's COMPOSITE checksum of a multipart object: CRC32C over the parts' raw
    CRC32C values, suffixed with the part count."""
    joined = b"".join(base64.b64decode(c) for c in part_checksums)
    return f"{b64_crc32c(joined)}-{len(part_checksums)}"


@dataclass(frozen=True)
class Part:
    number: int
    offset: int
    size: int
    etag: str
    checksum: str


class Multipart:
    def __init__(self, client: S3Client, bucket: str, key: str, upload_id: str) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.parts: list[Part] = []
        self._lock = threading.Lock()
        self.finished = False
        self.version_id: str | None = None

    @classmethod
    def create(
        cls, client: S3Client, bucket: str, key: str, retention: Retention | None
    ) -> Multipart:
        request: CreateMultipartUploadRequestTypeDef = {
            "Bucket": bucket,
            "Key": key,
            "ChecksumAlgorithm": "CRC32C",
            "ContentType": "application/octet-stream",
        }
        if retention is not None:
            # Lock settings are fixed when the upload starts and apply at completion.
            request["ObjectLockMode"] = retention.mode
            request["ObjectLockRetainUntilDate"] = retention.until
        with s3_errors(client, what="starting multipart upload", bucket=bucket, key=key):
            response = client.create_multipart_upload(**request)
        return cls(client, bucket, key, response["UploadId"])

    def _errors(self, what: str) -> AbstractContextManager[None]:
        return s3_errors(self.client, what=what, bucket=self.bucket, key=self.key)

    def add(self, part: Part) -> None:
        with self._lock:
            self.parts.append(part)

    def upload_part(self, number: int, offset: int, part: PartBuffer) -> Part:
        """Send `part` as part `number` (bytes at `offset` of the object)."""
        size = len(part)
        checksum = b64_crc32c(part.view())
        with self._errors(f"uploading part {number}"):
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                # botocore sends a bytearray as it does bytes (its stubs say only bytes)
                Body=cast("bytes | BinaryIO", part.body()),
                ContentLength=size,
                ChecksumCRC32C=checksum,
            )
        echoed = response.get("ChecksumCRC32C")
        if echoed and echoed != checksum:
            raise IntegrityError(f"part {number} of {self.key}: server stored another checksum")
        return Part(number, offset, size, response["ETag"], checksum)

    def complete(self, *, exclusive: bool) -> str | None:
        """Finish the upload; returns the new VersionId ("" if the server gives none).

        With `exclusive`, None means the key already existed and nothing was written
        (the caller still has to `abort()` this upload).
        """
        self.parts.sort(key=lambda p: p.number)
        parts: list[CompletedPartTypeDef] = [
            {"PartNumber": p.number, "ETag": p.etag, "ChecksumCRC32C": p.checksum}
            for p in self.parts
        ]
        request: CompleteMultipartUploadRequestTypeDef = {
            "Bucket": self.bucket,
            "Key": self.key,
            "UploadId": self.upload_id,
            "MultipartUpload": {"Parts": parts},
        }
        if exclusive:
            request["IfNoneMatch"] = "*"
        with self._errors("completing multipart upload"):
            try:
                response = self.client.complete_multipart_upload(**request)
            except ClientError as exc:
                if exclusive and error_code(exc) in PRECONDITION_CODES | CONFLICT_CODES:
                    return None
                raise
        self.finished = True
        self.version_id = response.get("VersionId", "")
        echoed = response.get("ChecksumCRC32C")
        expected = composite_crc32c([p.checksum for p in self.parts])
        if echoed and "-" in echoed and echoed != expected:
            raise IntegrityError(f"{self.key}: the server assembled parts other than those sent")
        return self.version_id

    def abort(self) -> None:
        if self.finished:
            return
        with self._errors("aborting multipart upload"):
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
                )
            except ClientError as exc:
                if error_code(exc) != "NoSuchUpload":
                    raise
        self.finished = True
