from __future__ import annotations

import dataclasses
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from storage.hashing import Digests, MultiHasher, hash_file
from storage.hashlanes import LaneHasher


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


@pytest.mark.parametrize("sizes", [[1 << 20] * 9, [10, 300_000, 5, 1 << 20, 7, 2 << 20, 1]])
def test_lanes_equal_hashlib_in_stream_order(sizes: list[int]) -> None:
    data = [os.urandom(n) for n in sizes]
    hasher = LaneHasher(lag=2 << 20)
    for chunk in data:
        hasher.update(chunk)
    assert hasher.size == sum(sizes)
    assert hasher.digests() == _expected(b"".join(data))


def test_lanes_stay_within_their_lag() -> None:
    lag = 3 << 20
    hasher = LaneHasher(lag=lag)
    seen: list[int] = []
    for _ in range(24):
        hasher.update(os.urandom(1 << 20))
        seen.append(max(lane.behind for lane in hasher._lanes))
    assert max(seen) <= lag
    hasher.digests()


def test_many_uploads_share_the_lane_threads() -> None:
    """More concurrent hashers than pool threads: none may wait on another for ever."""
    streams = [[os.urandom(300_000) for _ in range(6)] for _ in range(12)]
    hashers = [LaneHasher(lag=600_000) for _ in streams]

    def feed(i: int) -> Digests:
        for chunk in streams[i]:
            hashers[i].update(chunk)
        return hashers[i].digests()

    with ThreadPoolExecutor(len(streams)) as pool:
        results = list(pool.map(feed, range(len(streams))))
    assert results == [_expected(b"".join(s)) for s in streams]


def test_closed_lanes_drop_queued_chunks() -> None:
    hasher = LaneHasher()
    for _ in range(8):
        hasher.update(os.urandom(1 << 20))
    hasher.close()
    assert all(not lane.running and not lane.behind for lane in hasher._lanes)
