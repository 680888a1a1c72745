"""Both store backends behind one test harness, with a way to see what they left behind.

"Nothing left" is checked against the backend itself: files on disk for the local store,
every object version and in-flight multipart upload for S3 (a plain listing would not
show a noncurrent version or an unfinished upload).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage.base import ObjectStore
from storage.keys import UPLOADS_PREFIX, content_key
from storage.local import LocalWormStore
from storage.s3 import S3WormStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class Backend:
    name: str
    store: ObjectStore
    #: everything under objects/ (for S3: every version and delete marker)
    stored: Callable[[], list[str]]
    #: staging files, staging objects and unfinished multipart uploads
    leftovers: Callable[[], list[str]]
    #: uploads larger than this, SHA-256 not declared, are stored under their own key
    own_key_above: int | None = None

    def key_for(self, data: bytes, *, declared: bool = False) -> str | None:
        """The key an upload of `data` gets: its content key, or None for "its own"."""
        if not declared and self.own_key_above is not None and len(data) > self.own_key_above:
            return None
        return content_key(hashlib.sha256(data).hexdigest())

    def check_key(self, key: str, data: bytes, *, declared: bool = False) -> None:
        expected = self.key_for(data, declared=declared)
        if expected is None:
            assert key.startswith(UPLOADS_PREFIX), key
        else:
            assert key == expected


def local_backend(root: Path) -> Backend:
    store = LocalWormStore(root)

    def stored() -> list[str]:
        base = root / "objects"
        return sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file())

    def leftovers() -> list[str]:
        return sorted(p.name for p in (root / "staging").iterdir())

    return Backend("local", store, stored, leftovers)


def all_versions(client: S3Client, bucket: str, prefix: str) -> list[str]:
    found: list[str] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        found += [f"{v['Key']}@{v['VersionId']}" for v in page.get("Versions", [])]
        found += [f"{m['Key']}@{m['VersionId']}(marker)" for m in page.get("DeleteMarkers", [])]
    return sorted(found)


def multipart_uploads(client: S3Client, bucket: str) -> list[str]:
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return sorted(f"upload:{u['Key']}" for u in uploads)


def s3_backend(store: S3WormStore, client: S3Client) -> Backend:
    bucket = store.bucket

    def stored() -> list[str]:
        return all_versions(client, bucket, "objects/")

    def leftovers() -> list[str]:
        return all_versions(client, bucket, "staging/") + multipart_uploads(client, bucket)

    return Backend("s3", store, stored, leftovers, own_key_above=store.part_size)
