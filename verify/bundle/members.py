"""Reading a bundle's members from the zip: each bounded, each against the manifest's digest."""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Callable, Iterator

from verify.bundle.layout import member_limit
from verify.errors import BundleMemberError, MemberTooLarge, VerificationError

_CHUNK = 1 << 20

#: progress(done, total, stage): bytes of bundle members checked so far, of all of them.
ProgressFn = Callable[[int, int, str], None]

# What zipfile raises for a damaged member: bad headers or CRC, corrupt deflate data,
# an unsupported compression method or encryption, a truncated file.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError)


class Members:
    def __init__(self, zf: zipfile.ZipFile, progress: ProgressFn | None) -> None:
        self.zf = zf
        self.progress = progress
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            if info.filename in self.infos:
                # zipfile would silently read the last one; another tool, the first.
                raise BundleMemberError("the zip holds this member twice", subject=info.filename)
            self.infos[info.filename] = info
        self.total = sum(i.file_size for i in self.infos.values())
        self.done = 0
        self.digests: dict[str, str] = {}
        self.stage = "bundle"

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total, self.stage)

    def read(
        self,
        name: str,
        limit: int | None = None,
        *,
        missing: VerificationError | None = None,
        count: bool = True,
    ) -> bytes:
        """A whole small member, checked against the manifest's SHA-256."""
        limit = member_limit(name) if limit is None else limit
        info = self.infos.get(name)
        if info is None:
            raise missing or BundleMemberError(
                "listed by the manifest but not in the zip", subject=name
            )
        expected = self.digests.get(name)
        if expected is None:
            raise BundleMemberError("the manifest gives no SHA-256 for this member", subject=name)
        if info.file_size > limit:
            # Refused unread: a few KB of deflate can claim (and hold) gigabytes.
            raise MemberTooLarge(
                f"{info.file_size} bytes, more than the {limit} a member of its kind may have",
                subject=name,
            )
        try:
            with self.zf.open(info) as fh:
                data = fh.read(limit + 1)
        except ZIP_ERRORS as exc:
            raise BundleMemberError(f"unreadable: {exc}", subject=name) from exc
        if len(data) > limit:
            raise MemberTooLarge(f"more than {limit} bytes", subject=name)
        if hashlib.sha256(data).hexdigest() != expected:
            raise BundleMemberError("its bytes differ from the manifest's SHA-256", subject=name)
        if count:
            self.advance(info.file_size)
        return data

    def chunks(self, name: str) -> Iterator[bytes]:
        """A large member in chunks (zipfile checks its CRC-32 at the end)."""
        with self.zf.open(self.infos[name]) as fh:
            while block := fh.read(_CHUNK):
                self.advance(len(block))
                yield block
