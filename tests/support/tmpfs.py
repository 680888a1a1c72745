"""A real, small tmpfs: the kernel's own ENOSPC, not a simulated one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted_tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` (mount's syntax: "2m", "64m") at `mount_point`; the test is
    skipped, saying why, where mounting is not permitted (it needs root)."""
    mount_point.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        # Lazily: a file still open elsewhere must not leave the mount behind.
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int) -> Path:
    """Write a filler file until only `leave` bytes stay free on `path`'s filesystem:
    what another tenant of the disk (logs, a core dump) does."""
    filler = path / "filler.bin"
    block = b"\xa5" * (1 << 20)
    with filler.open("ab") as f:
        while (room := free_bytes(path) - leave) > 0:
            try:
                f.write(block[: min(room, len(block))])
                f.flush()
            except OSError:
                break
    return filler
