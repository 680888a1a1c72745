"""A container on local disk while it is checked: a zip must be seekable to be read
safely (its directory is at the end) and libewf reads files, so the body is spooled
once, hashed on the way, under the upload spool (whose free space the admission of
uploads counts) and removed whatever the outcome."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path

#: under the upload spool (app.uploads.reserve.SPOOL_DIR), whose free space admission counts
STAGING = Path("uploads") / "collections"


def sweep(data_dir: Path, older_than_s: float) -> int:
    """Remove containers a crash left spooled (at startup, like the store's staging)."""
    folder = data_dir / STAGING
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for entry in os.scandir(folder):
        try:
            if entry.name.endswith(".part") and entry.stat().st_mtime <= cutoff:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)  # a split image's segments
                else:
                    os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


class StagingFile:
    def __init__(self, data_dir: Path) -> None:
        folder = data_dir / STAGING
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path: Path = folder / f"{uuid.uuid4().hex}.part"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self._hash.update(data)
        self.size += len(data)

    def finish(self) -> str:
        """Closes the file; returns its SHA-256."""
        self._fh.close()
        return self._hash.hexdigest()

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)


class StagingDir:
    """A folder under the same spool for files libewf must read by name (a split image's
    segments), removed whatever the outcome."""

    def __init__(self, data_dir: Path) -> None:
        folder = data_dir / STAGING
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path: Path = folder / f"{uuid.uuid4().hex}.part"
        self.path.mkdir(mode=0o700)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
