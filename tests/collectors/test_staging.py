"""Containers a crash left in the upload spool are swept at startup, recent ones kept
(another API process may be receiving one)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from app.collectors.staging import STAGING, StagingFile, sweep


def test_stale_spooled_containers_are_swept(tmp_path: Path) -> None:
    old, fresh = StagingFile(tmp_path), StagingFile(tmp_path)
    for f in (old, fresh):
        f.write(b"PK\x03\x04 partial")
        f.finish()
    past = time.time() - 7200
    os.utime(old.path, (past, past))
    assert sweep(tmp_path, older_than_s=3600) == 1
    assert not old.path.exists() and fresh.path.exists()
    assert fresh.path.parent == tmp_path / STAGING
    assert oct(fresh.path.stat().st_mode & 0o777) == oct(0o600)
