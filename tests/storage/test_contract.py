"""Behaviour every ObjectStore must have, run on the local store and on a real S3 server."""

from __future__ import annotations

import hashlib
import itertools
import os
from datetime import UTC, datetime, timedelta

import pytest

from storage.base import ObjectStore, Retention, StoredObject
from storage.errors import (
    DigestMismatch,
    InvalidArgument,
    InvalidKey,
    ObjectExists,
    ObjectNotFound,
    RetentionViolation,
    SizeLimitExceeded,
    StorageError,
)
from storage.hashing import Digests
from storage.keys import content_key
from tests.storage.backends import Backend
from tests.storage.conftest import PART

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ODD_CHUNKS = [1, 7, 4096, 65537, (1 << 20) + 3]


def upload(
    store: ObjectStore,
    data: bytes,
    chunk: int = 1 << 20,
    *,
    expected_sha256: str | None = None,
    max_size: int | None = None,
    retention: Retention | None = None,
) -> StoredObject:
    with store.begin_upload(
        expected_sha256=expected_sha256, max_size=max_size, retention=retention
    ) as up:
        for i in range(0, len(data), chunk):
            up.write(data[i : i + chunk])
        return up.commit()


def read_all(store: ObjectStore, key: str) -> bytes:
    return b"".join(store.open_range(key))


def in_days(days: float) -> Retention:
    return Retention("COMPLIANCE", datetime.now(UTC) + timedelta(days=days))


# -- round trip -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [100, 2 * PART + 12345])
def test_round_trip_in_odd_chunks(backend: Backend, size: int) -> None:
    store = backend.store
    data = os.urandom(size)
    with store.begin_upload() as up:
        offset = 0
        for chunk in itertools.cycle(ODD_CHUNKS):
            if offset >= len(data):
                break
            up.write(data[offset : offset + chunk])
            offset += chunk
        stored = up.commit()
    assert stored.created
    backend.check_key(stored.key, data)
    assert stored.digests == Digests(
        sha256=hashlib.sha256(data).hexdigest(),
        sha1=hashlib.sha1(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
        size=size,
    )
    assert store.exists(stored.key)
    assert store.size(stored.key) == size
    assert read_all(store, stored.key) == data
    assert list(store.list_keys("objects/")) == [stored.key]
    assert backend.leftovers() == []


def test_dedup_stores_one_object(backend: Backend) -> None:
    data = os.urandom(1000)
    first = upload(backend.store, data)
    second = upload(backend.store, data, chunk=333)
    assert first.created and not second.created
    assert first.key == second.key and first.digests == second.digests
    assert len(backend.stored()) == 1
    assert backend.leftovers() == []


@pytest.mark.parametrize("size", [1000, 2 * PART + 1])
def test_declared_digest_accepted(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    declared = hashlib.sha256(data).hexdigest().upper()
    stored = upload(backend.store, data, expected_sha256=declared)
    assert stored.created and stored.digests.sha256 == declared.lower()
    assert read_all(backend.store, stored.key) == data
    assert backend.leftovers() == []


@pytest.mark.parametrize("size", [1000, 2 * PART + 1])
def test_declared_digest_mismatch_stores_nothing(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(DigestMismatch) as info:
        upload(backend.store, data, expected_sha256=wrong)
    assert info.value.expected == wrong
    assert info.value.actual == hashlib.sha256(data).hexdigest()
    assert backend.stored() == []
    assert backend.leftovers() == []


def test_malformed_declared_digest_is_refused(store: ObjectStore) -> None:
    with pytest.raises(InvalidArgument):
        store.begin_upload(expected_sha256="not-a-digest")


@pytest.mark.parametrize(("limit", "first"), [(1000, 600), (PART + PART // 2, PART + 1)])
def test_size_limit_stops_at_once_and_stores_nothing(
    backend: Backend, limit: int, first: int
) -> None:
    up = backend.store.begin_upload(max_size=limit)
    up.write(os.urandom(first))
    with pytest.raises(SizeLimitExceeded) as info:
        up.write(os.urandom(limit - first + 1))
    assert info.value.limit == limit
    with pytest.raises(StorageError):
        up.write(b"more")
    with pytest.raises(StorageError):
        up.commit()
    assert backend.stored() == []
    assert backend.leftovers() == []


def test_upload_exactly_at_the_limit_is_fine(store: ObjectStore) -> None:
    assert upload(store, os.urandom(1000), max_size=1000).created


@pytest.mark.parametrize("size", [10, PART + 10])
def test_exception_mid_upload_leaves_nothing(backend: Backend, size: int) -> None:
    with pytest.raises(RuntimeError), backend.store.begin_upload() as up:
        up.write(os.urandom(size))
        up.write(os.urandom(size))
        raise RuntimeError("collector went away")
    assert backend.stored() == []
    assert backend.leftovers() == []


def test_abort_is_idempotent_and_leaving_without_commit_aborts(backend: Backend) -> None:
    up = backend.store.begin_upload()
    up.write(os.urandom(PART + 1))
    up.abort()
    up.abort()
    with backend.store.begin_upload() as up2:
        up2.write(b"never committed")
    assert backend.stored() == []
    assert backend.leftovers() == []


def test_commit_twice_and_abort_after_commit(backend: Backend) -> None:
    up = backend.store.begin_upload()
    up.write(b"x")
    stored = up.commit()
    up.abort()  # a no-op once committed
    with pytest.raises(StorageError):
        up.commit()
    assert backend.store.exists(stored.key)


def test_zero_byte_object(backend: Backend) -> None:
    stored = upload(backend.store, b"")
    assert stored.created
    assert stored.key == content_key(EMPTY_SHA256)
    assert stored.digests.size == 0
    assert backend.store.size(stored.key) == 0
    assert list(backend.store.open_range(stored.key)) == []
    assert backend.store.read_bytes(stored.key) == b""
    assert not upload(backend.store, b"").created


# -- reading --------------------------------------------------------------------------


def test_range_reads(store: ObjectStore) -> None:
    data = os.urandom(100_000)
    key = upload(store, data).key
    for start, end in [(0, None), (0, 1), (99_999, None), (123, 4567), (50_000, 50_000)]:
        stop = len(data) if end is None else end
        chunks = list(store.open_range(key, start, end, chunk_size=1000))
        assert b"".join(chunks) == data[start:stop]
        assert all(len(c) <= 1000 for c in chunks)
    assert b"".join(store.open_range(key, 100_000)) == b""


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 4), (0, 100_001), (100_001, None)])
def test_bad_ranges_are_refused_at_call_time(store: ObjectStore, start: int, end: int) -> None:
    key = upload(store, os.urandom(100_000)).key
    with pytest.raises(InvalidArgument):
        store.open_range(key, start, end)


def test_missing_objects(store: ObjectStore) -> None:
    key = content_key("ab" * 32)
    assert not store.exists(key)
    for call in (store.size, store.read_bytes, store.open_range, store.protection, store.delete):
        with pytest.raises(ObjectNotFound):
            call(key)
    with pytest.raises(ObjectNotFound):
        store.set_legal_hold(key, True)
    with pytest.raises(ObjectNotFound):
        store.extend_retention(key, in_days(1))


@pytest.mark.parametrize("key", ["../escape", "/abs", "staging/x", "objects/sha256/zz"])
def test_invalid_keys_are_refused_everywhere(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put_bytes(key, b"x")
    for call in (store.exists, store.size, store.read_bytes, store.open_range, store.delete):
        with pytest.raises(InvalidKey):
            call(key)


def test_list_keys_in_order_with_partial_prefixes(store: ObjectStore) -> None:
    keys = ["ledger/a-b", "ledger/a/b", "ledger/a0", "ledger/b/c/d", "ledger/ab", "other/x"]
    for key in keys:
        store.put_bytes(key, key.encode())
    assert list(store.list_keys("ledger/")) == sorted(k for k in keys if k.startswith("ledger/"))
    assert list(store.list_keys("ledger/a")) == [
        "ledger/a-b",
        "ledger/a/b",
        "ledger/a0",
        "ledger/ab",
    ]
    assert list(store.list_keys("ledger/a/")) == ["ledger/a/b"]
    assert list(store.list_keys("")) == sorted(keys)
    assert list(store.list_keys("nothing/")) == []


# -- named write-once keys ------------------------------------------------------------


def test_put_bytes_is_write_once(store: ObjectStore) -> None:
    key = "ledger/seals/000000000000001.json"
    store.put_bytes(key, b'{"size": 1}')
    store.put_bytes(key, b'{"size": 1}')  # identical: a no-op
    with pytest.raises(ObjectExists):
        store.put_bytes(key, b'{"size": 2}')
    with pytest.raises(ObjectExists):
        store.put_bytes(key, b'{"size": 1}  ')
    assert store.read_bytes(key) == b'{"size": 1}'
    assert list(store.list_keys("ledger/")) == [key]


def test_put_bytes_under_objects_only_at_the_content_key(store: ObjectStore) -> None:
    data = b"evidence"
    store.put_bytes(content_key(hashlib.sha256(data).hexdigest()), data)
    with pytest.raises(InvalidKey):
        store.put_bytes(content_key("ab" * 32), data)


# -- protection -----------------------------------------------------------------------


def test_retained_evidence_cannot_be_deleted(store: ObjectStore) -> None:
    stored = upload(store, os.urandom(100), retention=in_days(1))
    with pytest.raises(RetentionViolation):
        store.delete(stored.key)
    assert store.exists(stored.key)
    protection = store.protection(stored.key)
    assert protection.retention is not None
    assert protection.retention.mode == "COMPLIANCE"


def test_retention_can_be_extended_never_shortened(store: ObjectStore) -> None:
    key = "exports/case-7/report.json"
    store.put_bytes(key, b"{}", retention=in_days(1))
    store.extend_retention(key, in_days(3))
    until = store.protection(key).retention
    assert until is not None
    assert abs(until.until - in_days(3).until) < timedelta(minutes=1)
    with pytest.raises(RetentionViolation):
        store.extend_retention(key, in_days(2))
    with pytest.raises(RetentionViolation):
        store.delete(key)


def test_legal_hold_blocks_delete_until_released(store: ObjectStore) -> None:
    key = "exports/case-7/notes.txt"
    store.put_bytes(key, b"notes")
    store.set_legal_hold(key, True)
    assert store.protection(key).legal_hold
    with pytest.raises(RetentionViolation):
        store.delete(key)
    store.set_legal_hold(key, False)
    assert not store.protection(key).legal_hold
    store.delete(key)
    assert not store.exists(key)


def test_reupload_keeps_the_longest_retention(store: ObjectStore) -> None:
    data = os.urandom(500)
    key = upload(store, data, retention=in_days(1)).key
    assert not upload(store, data, retention=in_days(5)).created
    after_longer = store.protection(key).retention
    assert after_longer is not None
    assert abs(after_longer.until - in_days(5).until) < timedelta(minutes=1)
    upload(store, data, retention=in_days(2))
    assert store.protection(key).retention == after_longer


def test_retention_in_the_past_is_refused(store: ObjectStore) -> None:
    past = Retention("COMPLIANCE", datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(InvalidArgument):
        store.begin_upload(retention=past)
    with pytest.raises(InvalidArgument):
        store.put_bytes("ledger/x", b"x", retention=past)


# -- crash recovery -------------------------------------------------------------------


def test_cleanup_staging_removes_abandoned_uploads(backend: Backend) -> None:
    crashed = backend.store.begin_upload()
    crashed.write(os.urandom(PART + 1))  # far enough to have started a multipart upload
    small = backend.store.begin_upload()
    small.write(b"x")
    assert backend.leftovers() != []
    assert backend.store.cleanup_staging(older_than_s=3600) == 0
    assert backend.store.cleanup_staging() >= 1
    assert backend.leftovers() == []
    assert backend.stored() == []
