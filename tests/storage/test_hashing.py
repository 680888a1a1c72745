from __future__ import annotations

import dataclasses
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from storage.hashing import Digests, MultiHasher, hash_file


def _expected(data: bytes) -> Digests:
    return Digests(
        sha256=hashlib.sha256(data).hexdigest(),
        sha1=hashlib.sha1(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
        size=len(data),
    )


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65537, 1 << 20])
def test_one_pass_equals_hashlib(chunk: int) -> None:
    data = os.urandom(100_001)
    hasher = MultiHasher()
    for i in range(0, len(data), chunk):
        hasher.update(data[i : i + chunk])
    assert hasher.size == len(data)
    assert hasher.digests() == _expected(data)


def test_empty_input() -> None:
    assert MultiHasher().digests() == _expected(b"")


def test_accepts_memoryview_and_bytearray() -> None:
    data = os.urandom(1000)
    hasher = MultiHasher()
    hasher.update(memoryview(data)[:500])
    hasher.update(bytearray(data[500:]))
    assert hasher.digests() == _expected(data)


def test_digests_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MultiHasher().digests().size = 3  # type: ignore[misc]


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_hash_file(tmp_path: Path, chunk: int) -> None:
    data = os.urandom((1 << 20) + 5)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert hash_file(path, chunk) == _expected(data)


def test_update_tasks_on_two_threads_equal_hashlib() -> None:
    data = [os.urandom(1 << 20) for _ in range(8)]
    hasher = MultiHasher()
    with ThreadPoolExecutor(2) as pool:
        for chunk in data:
            for done in [pool.submit(task) for task in hasher.update_tasks(chunk)]:
                done.result()
    assert hasher.digests() == _expected(b"".join(data))
