"""Free space on the filesystems the vault writes to, and the reserve uploads may not take.

The reserve (`LOCARD_RESERVE_FREE_BYTES`) is what is left when uploads are refused: room
for legal holds, notes and the ledger. Uploads never count it as free. When free space
falls below it anyway (another tenant of the disk, database growth), the vault turns
read-only: reads and legal holds keep working, other writes answer 507.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.settings import Settings

#: how long one statvfs answer is reused by the read-only check and /healthz
CACHE_S = 1.0


@dataclass(frozen=True)
class Volume:
    """One filesystem the vault writes to, named by what lives on it (never by path:
    /healthz answers anyone)."""

    name: str
    dev: int
    free: int


def _existing(path: Path) -> Path:
    # The spool or the store directory may not exist yet; its filesystem is its parent's.
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def probe(name: str, path: Path) -> Volume:
    where = _existing(path)
    st = os.statvfs(where)
    return Volume(name, os.stat(where).st_dev, st.f_bavail * st.f_frsize)


def local_dirs(settings: Settings) -> list[tuple[str, Path]]:
    """What the vault keeps on local disks: the data directory (SQLite database, keys,
    upload spool) and, unless the store is S3, the store."""
    dirs = [("data directory", settings.data_dir)]
    if settings.store == "local":
        dirs.append(("store", settings.store_dir))
    return dirs


def volumes(settings: Settings) -> list[Volume]:
    """Each distinct filesystem once (the store usually shares the data directory's)."""
    seen: dict[int, Volume] = {}
    for name, path in local_dirs(settings):
        v = probe(name, path)
        if v.dev not in seen:
            seen[v.dev] = v
    return list(seen.values())


_lock = threading.Lock()
_cache: dict[Path, tuple[float, list[Volume]]] = {}


def cached_volumes(settings: Settings) -> list[Volume]:
    """`volumes`, reused for CACHE_S: cheap enough to ask on every write request."""
    key = settings.data_dir
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
    found = volumes(settings)
    with _lock:
        _cache[key] = (now, found)
    return found


def low_space(settings: Settings) -> str | None:
    """Why the vault is read-only now, or None while every disk has its reserve free."""
    reserve = settings.reserve_free_bytes
    for v in cached_volumes(settings):
        if v.free < reserve:
            return (
                f"{v.free} bytes free on the {v.name}'s filesystem, below the {reserve} kept "
                "in reserve (LOCARD_RESERVE_FREE_BYTES): read-only apart from legal holds"
            )
    return None


def health(settings: Settings) -> dict[str, str]:
    reason = low_space(settings)
    return {"status": "ok"} if reason is None else {"status": "degraded", "reason": reason}
