"""A container on local disk while it is checked: a zip must be seekable to be read
safely (its directory is at the end) and libewf reads files, so the body is spooled
once, hashed on the way, under the upload spool (whose free space the admission of
uploads counts) and removed whatever the outcome."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from app.uploads.reserve import SPOOL_DIR
from app.vault import Vault

STAGING = "collections"


class StagingFile:
    def __init__(self, vault: Vault) -> None:
        folder = vault.settings.data_dir / SPOOL_DIR / STAGING
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
