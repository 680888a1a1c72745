"""The upload life cycle every backend shares: hashing, limits, digest check, abort.

A backend supplies three steps: `_append` (put bytes into staging), `_publish` (make the
verified content visible at its content key) and `_discard` (remove all staging). This
class guarantees they run in a valid order and that any failure ends in `_discard`.
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from types import TracebackType

from storage.base import Retention, StoredObject
from storage.errors import DigestMismatch, SizeLimitExceeded, StorageError
from storage.hashing import Digests
from storage.hashlanes import LaneHasher
from storage.keys import check_sha256

log = logging.getLogger(__name__)


class _State(enum.Enum):
    OPEN = "open"
    COMMITTED = "committed"
    ABORTED = "aborted"


class BaseUpload(ABC):
    def __init__(
        self,
        *,
        expected_sha256: str | None,
        max_size: int | None,
        retention: Retention | None,
        backend_limit: int | None = None,
    ) -> None:
        if max_size is not None and max_size < 0:
            raise ValueError("max_size must be >= 0")
        self.expected_sha256 = (
            check_sha256(expected_sha256) if expected_sha256 is not None else None
        )
        self.retention = retention.require_future() if retention is not None else None
        self._max_size = max_size
        self._backend_limit = backend_limit
        self._hasher = LaneHasher()
        self._state = _State.OPEN

    @property
    def size(self) -> int:
        return self._hasher.size

    # -- backend steps ----------------------------------------------------------------

    @abstractmethod
    def _append(self, chunk: bytes) -> None:
        """Store the next bytes in staging."""

    @abstractmethod
    def _publish(self, digests: Digests) -> StoredObject:
        """Make the staged (already verified) bytes visible at their content key."""

    @abstractmethod
    def _discard(self) -> None:
        """Remove every trace of this upload's staging. Must tolerate partial state."""

    # -- life cycle -------------------------------------------------------------------

    def _require_open(self) -> None:
        if self._state is not _State.OPEN:
            raise StorageError(f"upload is already {self._state.value}")

    def _check_limits(self, new_size: int) -> None:
        if self._max_size is not None and new_size > self._max_size:
            raise SizeLimitExceeded(self._max_size)
        if self._backend_limit is not None and new_size > self._backend_limit:
            raise SizeLimitExceeded(self._backend_limit, "upload (backend maximum object size)")

    def write(self, chunk: bytes) -> None:
        self._require_open()
        if not chunk:
            return
        try:
            self._check_limits(self._hasher.size + len(chunk))
            # The hash lanes read `chunk` later, on their own threads, while it is stored.
            self._hasher.update(chunk if isinstance(chunk, bytes) else bytes(chunk))
            self._append(chunk)
        except BaseException:
            self.abort()
            raise

    def commit(self) -> StoredObject:
        self._require_open()
        try:
            digests = self._hasher.digests()
            if self.expected_sha256 is not None and digests.sha256 != self.expected_sha256:
                raise DigestMismatch(self.expected_sha256, digests.sha256)
            stored = self._publish(digests)
        except BaseException:
            self.abort()
            raise
        self._state = _State.COMMITTED
        return stored

    def abort(self) -> None:
        if self._state is not _State.OPEN:
            return
        self._state = _State.ABORTED
        self._hasher.close()
        try:
            self._discard()
        except StorageError as exc:
            # Aborting runs on failure paths; raising here would hide the original error.
            # Whatever is left is swept by cleanup_staging().
            log.warning("could not remove upload staging (cleanup_staging will): %s", exc)

    def __enter__(self) -> BaseUpload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()
