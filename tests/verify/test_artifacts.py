"""Artifact bytes against recorded hashes: verify/artifacts.py."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from verify.artifacts import hash_chunks, verify_artifact_file
from verify.errors import ArtifactHashMismatch, ArtifactUnreadable, MalformedInput


def _recorded(data: bytes) -> dict[str, object]:
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "size": len(data),
    }


@pytest.mark.parametrize("chunk", [1, 1000, 1 << 20, 3 << 20])
def test_hash_chunks_equals_hashlib(chunk: int) -> None:
    data = os.urandom((5 << 20) + 3) if chunk > 1 else os.urandom(5000)
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    assert hash_chunks(parts) == _recorded(data)


def test_hash_of_nothing() -> None:
    assert hash_chunks([]) == _recorded(b"")


def test_file_matches(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    assert verify_artifact_file(path, _recorded(data)).startswith("sha256 ")


@pytest.mark.parametrize("algo", ["sha256", "sha1", "md5", "size"])
def test_each_recorded_hash_is_checked(tmp_path: Path, algo: str) -> None:
    data = os.urandom(1 << 20)
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    recorded = _recorded(data)
    recorded[algo] = 0 if algo == "size" else "0" * len(str(recorded[algo]))
    with pytest.raises(ArtifactHashMismatch, match=algo):
        verify_artifact_file(path, recorded)


def test_missing_file_and_missing_sha256(tmp_path: Path) -> None:
    with pytest.raises(ArtifactUnreadable):
        verify_artifact_file(tmp_path / "nope.bin", _recorded(b""))
    path = tmp_path / "a.bin"
    path.write_bytes(b"x")
    with pytest.raises(MalformedInput):
        verify_artifact_file(path, {"md5": hashlib.md5(b"x").hexdigest()})
