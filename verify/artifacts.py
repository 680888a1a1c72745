"""Artifact bytes against the hashes an ingest event recorded; streams, constant memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from verify.errors import ArtifactHashMismatch, ArtifactUnreadable, MalformedInput

ALGORITHMS = ("sha256", "sha1", "md5")
_CHUNK = 1 << 20


def hash_chunks(chunks: Iterable[bytes]) -> dict[str, Any]:
    """SHA-256, SHA-1, MD5 and size of a byte stream.

    MD5 of each chunk runs on a helper thread while this one computes SHA-256 and SHA-1 and
    reads the next chunk: hashlib releases the GIL on large buffers, and on CPUs with SHA
    instructions MD5 alone costs about as much as the other two together.
    """
    sha256, sha1, md5 = (hashlib.new(name) for name in ALGORITHMS)
    size = 0
    with ThreadPoolExecutor(1, thread_name_prefix="verify-md5") as pool:
        behind: Future[None] | None = None
        for chunk in chunks:
            size += len(chunk)
            if behind is not None:
                behind.result()
            behind = pool.submit(md5.update, chunk)
            sha256.update(chunk)
            sha1.update(chunk)
        if behind is not None:
            behind.result()
    out: dict[str, Any] = {h.name: h.hexdigest() for h in (sha256, sha1, md5)}
    out["size"] = size
    return out


def read_chunks(path: Path, chunk: int = _CHUNK) -> Iterable[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            yield block


def compare_hashes(actual: Mapping[str, Any], recorded: Mapping[str, Any], name: str) -> str:
    """Every hash the event recorded must match; at least SHA-256 must be recorded."""
    if not isinstance(recorded.get("sha256"), str):
        raise MalformedInput("the event records no SHA-256 for this artifact", subject=name)
    for key in ("size", *ALGORITHMS):
        if key in recorded and recorded[key] != actual[key]:
            raise ArtifactHashMismatch(
                f"{key} is {actual[key]}, the ledger recorded {recorded[key]}", subject=name
            )
    return f"sha256 {actual['sha256']} ({actual['size']} bytes)"


def verify_artifact_file(path: Path, recorded: Mapping[str, Any]) -> str:
    """Hash the file at `path` and compare it with what the ledger recorded."""
    try:
        if not path.is_file():
            raise ArtifactUnreadable(f"artifact file {path} not found or not a regular file")
        actual = hash_chunks(read_chunks(path))
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise ArtifactUnreadable(f"cannot read artifact file {path}: {why}") from exc
    return compare_hashes(actual, recorded, path.name)
