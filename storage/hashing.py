"""SHA-256, SHA-1 and MD5 of a byte stream in one pass.

SHA-256 names and verifies everything Locard stores. SHA-1 and MD5 are computed alongside
only because courts and forensic tools (EnCase, FTK, NSRL lists) still quote them; they
are never used for integrity decisions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def is_sha256_hex(value: str) -> bool:
    """True for a lowercase 64-digit hex SHA-256 digest."""
    return _SHA256_HEX.fullmatch(value) is not None


@dataclass(frozen=True)
class Digests:
    """Hex digests and the length of one byte stream."""

    sha256: str
    sha1: str
    md5: str
    size: int


class MultiHasher:
    """Feed chunks with `update`; read the result with `digests()` at any point."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._size += chunk.nbytes if isinstance(chunk, memoryview) else len(chunk)
        self._sha256.update(chunk)
        self._sha1.update(chunk)
        self._md5.update(chunk)

    def digests(self) -> Digests:
        return Digests(
            sha256=self._sha256.hexdigest(),
            sha1=self._sha1.hexdigest(),
            md5=self._md5.hexdigest(),
            size=self._size,
        )


def hash_file(path: Path, chunk: int = MiB) -> Digests:
    """Digests of a file, read in `chunk`-sized pieces so memory stays constant."""
    hasher = MultiHasher()
    buf = bytearray(chunk)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            hasher.update(view[:n])
    return hasher.digests()
