"""The write-once object store interface shared by the local and S3 backends.

Two ways in:
- `begin_upload()` streams bytes of unknown content; the key is derived from the content
  (`objects/sha256/<hex>`) and only becomes visible when `commit()` succeeds.
- `put_bytes()` writes small sealed documents (ledger batches) at a named key, once.

Nothing is ever overwritten or deleted through this interface: `delete()` exists so that
tests can show the backend itself refuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

from storage.errors import InvalidArgument, RetentionViolation
from storage.hashing import Digests

__all__ = [
    "ObjectStore",
    "Protection",
    "Retention",
    "RetentionMode",
    "ShadowedObject",
    "StoredObject",
    "Upload",
    "VersionedStore",
    "check_extension",
    "merge_retention",
    "resolve_range",
]

RetentionMode = Literal["COMPLIANCE", "GOVERNANCE"]


@dataclass(frozen=True)
class StoredObject:
    """Result of a committed upload. `created` is False when the content was already stored."""

    key: str
    digests: Digests
    created: bool


@dataclass(frozen=True)
class Retention:
    """Keep the object (undeletable, unmodifiable) until `until` (timezone-aware)."""

    mode: RetentionMode
    until: datetime

    def __post_init__(self) -> None:
        if self.mode not in ("COMPLIANCE", "GOVERNANCE"):
            raise InvalidArgument(f"unknown retention mode {self.mode!r}")
        if self.until.tzinfo is None or self.until.utcoffset() is None:
            raise InvalidArgument("retention date must be timezone-aware")

    def require_future(self) -> Retention:
        """Self, if it still lies in the future (S3 refuses past dates; so do we, everywhere)."""
        if self.until <= datetime.now(UTC):
            raise InvalidArgument(f"retention date {self.until.isoformat()} is in the past")
        return self


@dataclass(frozen=True)
class Protection:
    """What currently protects one object."""

    retention: Retention | None
    legal_hold: bool


def merge_retention(current: Retention | None, wanted: Retention) -> Retention | None:
    """The retention to apply so that `wanted` holds without weakening `current`.

    None means `current` already covers it. Used when identical content is uploaded again
    for another case: the object must live as long as the longest-lived reference needs.
    """
    if current is None:
        return wanted
    mode: RetentionMode = (
        "COMPLIANCE" if "COMPLIANCE" in (current.mode, wanted.mode) else ("GOVERNANCE")
    )
    until = max(current.until, wanted.until)
    if mode == current.mode and until == current.until:
        return None
    return Retention(mode, until)


def check_extension(key: str, current: Retention | None, wanted: Retention) -> None:
    """RetentionViolation unless `wanted` keeps `current` at least as long and as strict."""
    if current is not None and (
        wanted.until < current.until
        or (current.mode == "COMPLIANCE" and wanted.mode == "GOVERNANCE")
    ):
        raise RetentionViolation(
            f"{key}: retention {current.mode} until {current.until.isoformat()} "
            "cannot be shortened or weakened"
        )


READ_BYTES_LIMIT = 64 << 20


def resolve_range(start: int, end: int | None, size: int, chunk_size: int) -> int:
    """Check a [start, end) range against an object of `size` bytes; returns the end."""
    stop = size if end is None else end
    if chunk_size <= 0:
        raise InvalidArgument("chunk_size must be positive")
    if not 0 <= start <= stop <= size:
        raise InvalidArgument(f"range [{start}, {end}) is outside an object of {size} bytes")
    return stop


class Upload(Protocol):
    """One streaming upload. Not thread-safe. Use as a context manager: leaving the block
    without `commit()` (or with an exception) aborts it."""

    def write(self, chunk: bytes) -> None:
        """Append bytes. Raises SizeLimitExceeded (and aborts) as soon as the limit is passed."""
        ...

    def commit(self) -> StoredObject:
        """Verify the declared digest, then make the object visible at its content key."""
        ...

    def abort(self) -> None:
        """Discard everything written so far. Idempotent; a no-op after a commit."""
        ...

    def __enter__(self) -> Upload: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ObjectStore(Protocol):
    """A write-once, content-addressed object store."""

    def begin_upload(
        self,
        *,
        expected_sha256: str | None = None,
        max_size: int | None = None,
        retention: Retention | None = None,
    ) -> Upload: ...

    def put_bytes(self, key: str, data: bytes, *, retention: Retention | None = None) -> None:
        """Write once at `key`. Same bytes again: no-op. Different bytes: ObjectExists."""
        ...

    def open_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Bytes [start, end) of the object (end None: to the end) in chunks.

        The key and range are checked when called, not when iteration starts.
        """
        ...

    def read_bytes(self, key: str) -> bytes:
        """The whole object; for small ledger documents only (SizeLimitExceeded if large)."""
        ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Keys starting with `prefix`, in lexicographic order."""
        ...

    def protection(self, key: str) -> Protection: ...

    def set_legal_hold(self, key: str, on: bool) -> None: ...

    def extend_retention(self, key: str, retention: Retention) -> None:
        """Lengthen (never shorten or weaken) the object's retention."""
        ...

    def delete(self, key: str) -> None:
        """Ask the backend to delete; RetentionViolation when it refuses."""
        ...

    def cleanup_staging(self, older_than_s: float = 0) -> int:
        """Remove staging left by crashed uploads older than `older_than_s`; returns the
        count. Run it at startup: with 0 it also removes uploads in progress."""
        ...


@dataclass(frozen=True)
class ShadowedObject:
    """An object that holds versions the store never wrote, seen on a versioned backend.

    The store always reads the original (oldest) version, which Object Lock keeps
    intact; anything newer was written, or deleted, behind the vault's back.
    """

    key: str
    original_version: str
    #: newer versions with other content: an overwrite attempt
    foreign_versions: tuple[str, ...] = ()
    #: newer versions identical to the original (size and ETag), e.g. two identical
    #: uploads completed at once on a server whose conditional completion is not atomic
    duplicate_versions: tuple[str, ...] = ()
    #: delete markers: a plain DELETE (no version id) that hides the key from readers of
    #: the latest version
    delete_markers: tuple[str, ...] = ()
    #: the latest entry is a delete marker: GET/HEAD without a version id answer 404
    hidden: bool = False

    @property
    def tampered(self) -> bool:
        """Foreign content or a deletion attempt (duplicates alone are harmless)."""
        return bool(self.foreign_versions or self.delete_markers)

    def describe(self) -> str:
        parts = []
        if self.foreign_versions:
            n = len(self.foreign_versions)
            parts.append(
                f"{n} version{'s' if n > 1 else ''} with other content written over the original"
            )
        if self.delete_markers:
            n = len(self.delete_markers)
            what = f"{n} delete marker{'s' if n > 1 else ''}"
            if self.hidden:
                what += " hiding it from readers of the latest version"
            parts.append(what)
        if self.duplicate_versions:
            n = len(self.duplicate_versions)
            parts.append(f"{n} identical later version{'s' if n > 1 else ''}")
        return "; ".join(parts) or "no foreign versions"


@runtime_checkable
class VersionedStore(Protocol):
    """A store on a versioned backend (S3): it can list what was written beside it."""

    def shadowed_objects(self, prefix: str) -> Iterator[ShadowedObject]:
        """Keys under `prefix` with versions or delete markers besides the original one,
        in key order. Objects that hold only their original version are not listed."""
        ...
