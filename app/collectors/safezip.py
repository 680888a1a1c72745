"""Opening a collector's zip as hostile input: everything is checked before a byte of it
becomes evidence, so a refused container leaves nothing half-ingested.

Refused: names that are absolute, traverse (`..`), carry a drive letter, backslashes,
control characters or empty components; duplicate names; encrypted members; more
members than the bound; a declared total past the bound; a member whose declared
expansion ratio marks a bomb. The declared sizes are what `zipfile` enforces while
reading (it stops at the declared size and checks the CRC), so bounding them bounds
what is decompressed. `check_members` then reads every member once (streaming, CRC
checked) so that a corrupt member is found before the first one is stored.
"""

from __future__ import annotations

import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from app.collectors.errors import CorruptContainer, EncryptedContainer, UnsafeContainer

READ = 1 << 20
#: below this a high ratio is harmless (a small log of repeated lines compresses 1000:1)
RATIO_FLOOR = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    max_members: int
    max_total_bytes: int
    max_ratio: int


def _check_name(name: str) -> None:
    shown = repr(name)
    if not name or "\x00" in name:
        raise UnsafeContainer(f"member name {shown} is empty or holds NUL")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise UnsafeContainer(f"member name {shown} holds control characters")
    if "\\" in name:
        raise UnsafeContainer(f"member name {shown} holds a backslash (a Windows path)")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeContainer(f"member name {shown} is absolute")
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafeContainer(f"member name {shown} traverses or has empty components")


def open_zip(path: Path, limits: ZipLimits) -> zipfile.ZipFile:
    """The zip at `path`, its directory checked; the caller closes it."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise CorruptContainer(f"not a readable zip: {exc}") from exc
    try:
        check_directory(zf, limits)
    except BaseException:
        zf.close()
        raise
    return zf


def check_directory(zf: zipfile.ZipFile, limits: ZipLimits) -> None:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnsafeContainer(
            f"{len(infos)} members exceed the bound of {limits.max_members} "
            "(LOCARD_COLLECTION_MAX_MEMBERS)"
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        _check_name(info.filename)
        key = unicodedata.normalize("NFC", info.filename)
        if key in seen:
            raise UnsafeContainer(f"member name {info.filename!r} appears twice")
        seen.add(key)
        if info.flag_bits & 0x1:
            raise EncryptedContainer(
                f"member {info.filename!r} is encrypted: decrypt the container first"
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnsafeContainer(
                f"member {info.filename!r} uses compression method {info.compress_type}, "
                "which is not read here"
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeContainer(
                f"the members expand to more than {limits.max_total_bytes} bytes "
                "(LOCARD_COLLECTION_MAX_BYTES)"
            )
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise UnsafeContainer(
                f"member {info.filename!r} expands {info.compress_size} bytes to "
                f"{info.file_size}: past the ratio bound of {limits.max_ratio} (a zip bomb)"
            )


def check_members(zf: zipfile.ZipFile) -> None:
    """Read every member through once: a bad CRC, a truncated or overlapping member
    refuses the container before anything is stored."""
    for info in zf.infolist():
        if info.is_dir():
            continue
        try:
            with zf.open(info) as fh:
                while fh.read(READ):
                    pass
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise CorruptContainer(f"member {info.filename!r} is corrupt: {exc}") from exc
