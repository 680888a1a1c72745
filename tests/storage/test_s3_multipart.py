"""Large objects on S3: multipart paths, bounded memory, concurrent identical uploads."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from storage.base import Retention, StoredObject
from storage.hashlanes import DEFAULT_LAG
from storage.keys import UPLOADS_PREFIX, content_key
from storage.s3 import S3WormStore
from tests.storage.backends import all_versions, multipart_uploads
from tests.storage.conftest import PART

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.s3


def _count_calls(store: S3WormStore) -> Counter[str]:
    calls: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    store.client.meta.events.register("before-call.s3", record)
    return calls


def _no_leftovers(store: S3WormStore, client: S3Client) -> bool:
    return (
        all_versions(client, store.bucket, "staging/") == []
        and multipart_uploads(client, store.bucket) == []
    )


@pytest.mark.parametrize("declared", [False, True])
def test_more_than_two_parts(s3_store: S3WormStore, s3_client: S3Client, declared: bool) -> None:
    data = os.urandom(12 << 20)
    sha = hashlib.sha256(data).hexdigest()
    calls = _count_calls(s3_store)
    with s3_store.begin_upload(expected_sha256=sha if declared else None) as up:
        for i in range(0, len(data), 1 << 20):
            up.write(data[i : i + (1 << 20)])
        stored = up.commit()
    assert stored.created and stored.digests.sha256 == sha
    assert calls["UploadPart"] == 3
    # Every byte is written once: no staging, no server-side copy. Undeclared content
    # stays under the upload's own key.
    assert calls["UploadPartCopy"] == calls["CopyObject"] == 0
    assert stored.key == content_key(sha) if declared else stored.key.startswith(UPLOADS_PREFIX)
    head = s3_client.head_object(Bucket=s3_store.bucket, Key=stored.key)
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(data)
    assert b"".join(s3_store.open_range(stored.key, chunk_size=1 << 20)) == data
    assert _no_leftovers(s3_store, s3_client)


def test_declared_content_already_stored_is_not_sent_again(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    data = os.urandom(2 * PART + 1)
    sha = hashlib.sha256(data).hexdigest()
    with s3_store.begin_upload(expected_sha256=sha) as up:
        up.write(data)
        up.commit()
    calls = _count_calls(s3_store)
    with s3_store.begin_upload(expected_sha256=sha) as up:
        up.write(data)
        again = up.commit()
    assert not again.created
    assert calls["UploadPart"] == 0 and calls["CreateMultipartUpload"] == 0
    assert len(all_versions(s3_client, s3_store.bucket, "objects/")) == 1


def test_undeclared_content_already_stored_is_not_kept_twice(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    """The bytes went up before their digest was known; once it is, and the content key
    already holds them, the upload is aborted and never becomes visible."""
    data = os.urandom(2 * PART + 1)
    sha = hashlib.sha256(data).hexdigest()
    first = _upload(s3_store, data, expected_sha256=sha)
    calls = _count_calls(s3_store)
    again = _upload(s3_store, data)
    assert (again.key, again.created) == (first.key, False) == (content_key(sha), False)
    assert calls["CompleteMultipartUpload"] == 0 and calls["AbortMultipartUpload"] == 1
    assert all_versions(s3_client, s3_store.bucket, "objects/") == all_versions(
        s3_client, s3_store.bucket, first.key
    )
    assert _no_leftovers(s3_store, s3_client)


def test_undeclared_uploads_each_keep_their_own_locked_object(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    """Two undeclared uploads of the same bytes: two objects, each whole and locked, each
    read back by the key its upload returned (the key the ingest event seals)."""
    data = os.urandom(2 * PART + 5)
    one, two = (_upload(s3_store, data, retention=_a_day()) for _ in range(2))
    assert one.created and two.created and one.key != two.key
    for stored in (one, two):
        assert stored.key.startswith(UPLOADS_PREFIX)
        head = s3_client.head_object(Bucket=s3_store.bucket, Key=stored.key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert s3_store.read_bytes(stored.key) == data
    assert sorted(s3_store.list_keys("objects/")) == sorted([one.key, two.key])
    assert _no_leftovers(s3_store, s3_client)


def _upload(store: S3WormStore, data: bytes, **kwargs: Any) -> StoredObject:
    with store.begin_upload(**kwargs) as up:
        for i in range(0, len(data), 1 << 20):
            up.write(data[i : i + (1 << 20)])
        return up.commit()


def test_memory_stays_bounded_by_the_parts_in_flight(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    """Peak memory is a fixed number of part buffers plus the hash lanes' lag, far below
    the object's size."""
    s3_store.part_concurrency = 2
    total = 96 << 20
    chunk = 1 << 20
    seed = os.urandom(chunk)
    tracemalloc.start()
    try:
        with s3_store.begin_upload() as up:
            for i in range(total // chunk):
                # Fresh bytes each time, so nothing can be cached between writes.
                up.write(bytes([i % 256]) + seed[1:])
            stored = up.commit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.digests.size == total
    bound = (s3_store.part_concurrency + 1) * s3_store.part_size + DEFAULT_LAG + (4 << 20)
    assert bound < total / 2
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB"
    assert _no_leftovers(s3_store, s3_client)


def _commit_concurrently(
    store: S3WormStore, data: bytes, declared: bool, count: int = 3
) -> list[StoredObject]:
    sha = hashlib.sha256(data).hexdigest()
    uploads = [
        store.begin_upload(expected_sha256=sha if declared else None, retention=_a_day())
        for _ in range(count)
    ]
    for up in uploads:
        up.write(data)
    barrier = threading.Barrier(count)
    results: list[StoredObject] = []
    errors: list[BaseException] = []

    def commit(index: int) -> None:
        barrier.wait()
        try:
            results.append(uploads[index].commit())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def _a_day() -> Retention:
    return Retention("COMPLIANCE", datetime.now(UTC) + timedelta(days=1))


@pytest.mark.parametrize("declared", [False, True])
def test_concurrent_identical_large_uploads_are_safe(
    s3_store: S3WormStore, s3_client: S3Client, declared: bool
) -> None:
    data = os.urandom(2 * PART + 3)
    results = _commit_concurrently(s3_store, data, declared)
    assert any(r.created for r in results)
    key = results[0].key
    # However many versions the race produced, each is the full content, locked.
    for entry in all_versions(s3_client, s3_store.bucket, key):
        version = entry.split("@", 1)[1]
        got = s3_client.get_object(Bucket=s3_store.bucket, Key=key, VersionId=version)
        assert got["Body"].read() == data
        assert got["ObjectLockMode"] == "COMPLIANCE"
    # Extra identical versions are duplicates to the audit, not tampering.
    assert not any(s.tampered for s in s3_store.shadowed_objects("objects/"))
    assert s3_store.read_bytes(key) == data
    assert _no_leftovers(s3_store, s3_client)


@pytest.mark.xfail(
    reason="SeaweedFS 4.48 checks If-None-Match on CompleteMultipartUpload without "
    "atomicity: concurrent completions of one key all succeed (measured 1-4 versions from 4 "
    "racers; PutObject's If-None-Match held). The extra versions are identical, verified "
    "and locked, but more than one uploader reports created=True. AWS S3 answers the "
    "losers with 412/409.",
    strict=False,
)
@pytest.mark.parametrize("declared", [False, True])
def test_concurrent_identical_large_uploads_make_one_version(
    s3_store: S3WormStore, s3_client: S3Client, declared: bool
) -> None:
    results = _commit_concurrently(s3_store, os.urandom(2 * PART + 3), declared, count=4)
    assert sum(r.created for r in results) == 1
    assert len(all_versions(s3_client, s3_store.bucket, results[0].key)) == 1


def test_parts_go_up_in_parallel_within_the_limit(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    """Several parts are in flight at once, never more than `part_concurrency`."""
    s3_store.part_concurrency = 3
    lock = threading.Lock()
    state = {"now": 0, "max": 0}
    release = threading.Event()

    def before(model: Any, **_: Any) -> None:
        if model.name != "UploadPart":
            return
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            if state["now"] == s3_store.part_concurrency:
                release.set()
        # Hold each part until the limit is reached (or a while passes): without parallel
        # parts the first one would wait here alone.
        release.wait(5)

    def after(model: Any, **_: Any) -> None:
        if model.name == "UploadPart":
            with lock:
                state["now"] -= 1

    s3_store.client.meta.events.register("before-call.s3", before)
    s3_store.client.meta.events.register("after-call.s3", after)
    data = os.urandom(8 * PART + 1)
    with s3_store.begin_upload() as up:
        for i in range(0, len(data), 1 << 20):
            up.write(data[i : i + (1 << 20)])
        stored = up.commit()
    assert state["max"] == s3_store.part_concurrency
    assert b"".join(s3_store.open_range(stored.key, chunk_size=1 << 20)) == data
    assert _no_leftovers(s3_store, s3_client)
