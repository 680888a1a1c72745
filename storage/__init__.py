"""Write-once object stores behind one interface (`storage.base.ObjectStore`).

`storage.local.LocalWormStore` is the embedded default; `storage.s3.S3WormStore` keeps
evidence in an S3 bucket with Object Lock. The S3 backend is imported on demand so that
nothing here pulls in boto3 unless it is used.
"""

from storage.base import (
    ObjectStore,
    Protection,
    Retention,
    StoredObject,
    Upload,
)
from storage.errors import (
    DigestMismatch,
    IntegrityError,
    InvalidArgument,
    InvalidKey,
    ObjectExists,
    ObjectNotFound,
    RetentionViolation,
    SizeLimitExceeded,
    StorageError,
    StorageFull,
    StorageMisconfigured,
    StorageUnavailable,
)
from storage.hashing import Digests, MultiHasher, hash_file

__all__ = [
    "DigestMismatch",
    "Digests",
    "IntegrityError",
    "InvalidArgument",
    "InvalidKey",
    "MultiHasher",
    "ObjectExists",
    "ObjectNotFound",
    "ObjectStore",
    "Protection",
    "Retention",
    "RetentionViolation",
    "SizeLimitExceeded",
    "StorageError",
    "StorageFull",
    "StorageMisconfigured",
    "StorageUnavailable",
    "StoredObject",
    "Upload",
    "hash_file",
]
