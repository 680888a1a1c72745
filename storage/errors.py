"""Typed storage failures.

Callers decide on the class alone (the API maps them to status codes); messages are for
people. Every operation that raises one of these has left nothing half-written behind.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class: the store could not do what was asked."""


class InvalidArgument(StorageError, ValueError):
    """A key, prefix, range, digest or retention given to the store is malformed."""


class InvalidKey(InvalidArgument):
    """The key is not a valid object key (or names a reserved area)."""


class ObjectExists(StorageError):
    """Different bytes were offered for a write-once key that already holds an object."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} already exists with different content; it is write-once")
        self.key = key


class ObjectNotFound(StorageError, KeyError):
    """No object under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no object at {self.key}"


class DigestMismatch(StorageError):
    """The uploaded bytes do not hash to the declared SHA-256. Nothing was stored."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"declared SHA-256 {expected} but the received bytes hash to {actual}")
        self.expected = expected
        self.actual = actual


class SizeLimitExceeded(StorageError):
    """The object is larger than allowed. Nothing was stored."""

    def __init__(self, limit: int, what: str = "upload") -> None:
        super().__init__(f"{what} exceeds the size limit of {limit} bytes")
        self.limit = limit


class RetentionViolation(StorageError):
    """Deleting, overwriting or shortening protection was refused (retention or legal hold)."""


class IntegrityError(StorageError):
    """Bytes were damaged in transit or a stored object does not match its content key."""


class StorageFull(StorageError):
    """The backing filesystem ran out of space. Nothing was stored."""


class StorageUnavailable(StorageError):
    """The backend cannot be reached right now; retrying later may succeed."""


class StorageMisconfigured(StorageError):
    """The backend answers but cannot be used as configured: missing bucket, Object Lock
    disabled, credentials refused."""
