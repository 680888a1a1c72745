"""One S3 multipart upload with per-part SHA-256 checksums.

Every part carries its SHA-256, so the server rejects a part damaged in transit
(BadDigest). Parts are remembered (number, offset, size, checksum) so a staged object
can be copied part-for-part and each copied part checked against the checksum computed
when its bytes passed through our hasher.
"""

from __future__ import annotations

import base64
import hashlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


def composite_sha256(part_checksums: list[str]) -> str:
    """S3's COMPOSITE checksum of a multipart object: SHA-256 over the parts' raw
    SHA-256 digests, suffixed with the part count."""
    joined = b"".join(base64.b64decode(c) for c in part_checksums)
    return f"{b64_sha256(joined)}-{len(part_checksums)}"


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
        self.finished = False
        self.version_id: str | None = None

    @classmethod
    def create(
        cls, client: S3Client, bucket: str, key: str, retention: Retention | None
    ) -> Multipart:
        request: CreateMultipartUploadRequestTypeDef = {
            "Bucket": bucket,
            "Key": key,
            "ChecksumAlgorithm": "SHA256",
            "ContentType": "application/octet-stream",
        }
        if retention is not None:
            # Lock settings are fixed when the upload starts and apply at completion.
            request["ObjectLockMode"] = retention.mode
            request["ObjectLockRetainUntilDate"] = retention.until
        with s3_errors(client, what="starting multipart upload", bucket=bucket, key=key):
            response = client.create_multipart_upload(**request)
        return cls(client, bucket, key, response["UploadId"])

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    def _errors(self, what: str) -> AbstractContextManager[None]:
        return s3_errors(self.client, what=what, bucket=self.bucket, key=self.key)

    def upload(self, part: PartBuffer) -> None:
        number = len(self.parts) + 1
        size = len(part)
        checksum = b64_sha256(part.view())
        with self._errors(f"uploading part {number}"):
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=part.reader(),
                ContentLength=size,
                ChecksumSHA256=checksum,
            )
        echoed = response.get("ChecksumSHA256")
        if echoed and echoed != checksum:
            raise IntegrityError(f"part {number} of {self.key}: server stored another checksum")
        self.parts.append(Part(number, self.size, size, response["ETag"], checksum))

    def copy_part(self, source_key: str, source_version: str, part: Part) -> None:
        """Copy `part` of a staged object as the same-numbered part of this upload."""
        last = part.offset + part.size - 1
        with self._errors(f"copying part {part.number}"):
            response = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=part.number,
                CopySource={"Bucket": self.bucket, "Key": source_key, "VersionId": source_version},
                CopySourceRange=f"bytes={part.offset}-{last}",
            )
        result = response["CopyPartResult"]
        echoed = result.get("ChecksumSHA256")
        if echoed and echoed != part.checksum:
            raise IntegrityError(
                f"part {part.number} copied into {self.key} does not match the uploaded bytes"
            )
        self.parts.append(
            Part(part.number, part.offset, part.size, result.get("ETag", ""), part.checksum)
        )

    def complete(self, *, exclusive: bool) -> str | None:
        """Finish the upload; returns the new VersionId ("" if the server gives none).

        With `exclusive`, None means the key already existed and nothing was written
        (the caller still has to `abort()` this upload).
        """
        parts: list[CompletedPartTypeDef] = [
            {"PartNumber": p.number, "ETag": p.etag, "ChecksumSHA256": p.checksum}
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
        echoed = response.get("ChecksumSHA256")
        expected = composite_sha256([p.checksum for p in self.parts])
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
