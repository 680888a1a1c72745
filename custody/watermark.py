"""The signing key's high-water mark: the largest checkpoint it has signed durably.

Two signed checkpoints of one size with two roots are the one thing a transparency
log must never produce: they are a fork, proof that the log showed different histories
to different readers. The database says which size comes next, but a database can be
lost, restored from an older backup or replaced, and then it would have the key sign a
second history. So the key keeps its own memory, in a file beside it (`<key>.mark`,
mode 0600) that moves with it, and the signer consults it before every signature:

* a size below the mark is refused (`WouldEquivocate`): some root of that size may
  already be published, and the mark cannot say which;
* the mark's own size is refused unless the root is the mark's (signing the same
  checkpoint again is harmless: Ed25519 is deterministic, the signature is the same);
* a size the write-once archive already holds with another root is refused too, which
  covers a key whose mark was lost or left behind.

When the mark advances matters as much as what it refuses. A seal signs inside a
database transaction that can still roll back (an error, a crash, a lost connection);
the next seal then signs the same size over other events, so other root. Had the mark
been advanced at signing, that vault could never seal again. The mark is therefore
advanced right after the transaction commits and before the checkpoint is archived or
any receipt is returned: a signature that never committed was never published (no
reader could see it), and one that committed is in the mark before anything leaves the
process. The one gap, a crash between the commit and the mark's write, is closed at the
next start: the database holds that checkpoint, signed by this key, and the start-up
check raises the mark to it before anything new is signed (`app.vault.open_vault`).
Two roots for one size would then need the database itself to lose a committed
checkpoint in the same instant as the process dies, and a database restored from an
older backup is refused at start because it is behind the mark.

The file is written whole to a temporary file, fsynced, renamed over the old one and
the directory fsynced; processes sharing the key directory serialise on an advisory
lock and the mark only ever moves up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from storage.fsio import fsync_dir_quietly as _fsync_dir

MARK_FORMAT = "locard-mark/1"
_MODE = 0o600

#: root of a checkpoint the archive holds at a size, or None when it holds none
ArchivedRoot = Callable[[int], bytes | None]


class WouldEquivocate(Exception):
    """Signing this checkpoint would make a second root for a size already signed."""

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


class MarkFileError(Exception):
    """The high-water mark file exists but cannot be read or written."""


@dataclass(frozen=True)
class Mark:
    size: int
    root: bytes
    #: the signed checkpoint note the mark was taken from (evidence of what was signed)
    note: bytes = b""

    def to_json(self) -> dict[str, object]:
        return {
            "format": MARK_FORMAT,
            "size": self.size,
            "root": self.root.hex(),
            "checkpoint": self.note.decode(),
        }


class HighWaterMark:
    """The mark file of one signing key, and the rules it enforces."""

    __slots__ = ("archived_root", "path")

    def __init__(self, path: Path, archived_root: ArchivedRoot | None = None) -> None:
        self.path = path
        self.archived_root = archived_root

    def __repr__(self) -> str:
        return f"HighWaterMark({str(self.path)!r})"

    def watching(self, archived_root: ArchivedRoot) -> HighWaterMark:
        """The same mark, also checking the write-once archive before each signature."""
        return HighWaterMark(self.path, archived_root)

    def read(self) -> Mark | None:
        """The current mark, or None if this key has no mark file yet."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise MarkFileError(f"{self.path}: cannot read the high-water mark: {exc}") from exc
        try:
            doc = json.loads(data)
            if doc.get("format") != MARK_FORMAT:
                raise ValueError(f"format is {doc.get('format')!r}, not {MARK_FORMAT!r}")
            mark = Mark(int(doc["size"]), bytes.fromhex(doc["root"]), doc["checkpoint"].encode())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MarkFileError(f"{self.path}: the high-water mark is unreadable: {exc}") from exc
        if mark.size < 0:
            raise MarkFileError(f"{self.path}: negative size in the high-water mark")
        return mark

    def check(self, size: int, root: bytes) -> None:
        """Refuse (`WouldEquivocate`) a checkpoint that would fork what was signed before.

        The file is read every time, not cached: another process sharing the key
        directory may have moved the mark since.
        """
        mark = self.read()
        if mark is not None and (size < mark.size or (size == mark.size and root != mark.root)):
            raise WouldEquivocate(
                f"refusing to sign a checkpoint of size {size}: this key has already signed "
                f"size {mark.size} (high-water mark {self.path.name}), so a checkpoint of this "
                "size may already be published with another root. The database is behind "
                "what the key signed: restore it, or run `locard rebuild --from-store`",
                size=size,
            )
        if self.archived_root is not None:
            archived = self.archived_root(size)
            if archived is not None and archived != root:
                raise WouldEquivocate(
                    f"refusing to sign a checkpoint of size {size}: the write-once archive "
                    "already holds that size with another root. The database is behind the "
                    "archive: run `locard rebuild --from-store` into an empty database",
                    size=size,
                )

    def advance(self, mark: Mark) -> Mark:
        """Move the mark up to `mark` (never down); returns the mark now on disk."""
        with self._locked():
            current = self.read()
            if current is not None and current.size >= mark.size:
                # Another process sharing the key got further first, or this is the same
                # checkpoint again: the mark never moves down.
                return current
            self._write(mark)
            return mark

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, _MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, mark: Mark) -> None:
        data = (json.dumps(mark.to_json(), indent=2, sort_keys=True) + "\n").encode()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _MODE)
            try:
                os.fchmod(fd, _MODE)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise MarkFileError(f"{self.path}: cannot write the high-water mark: {exc}") from exc
