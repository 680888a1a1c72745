"""S3 unreachable: a typed, readable error at once, and a working store once it is back.

Uses its own SeaweedFS instance, since killing the shared one would break other tests.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from storage.errors import StorageUnavailable
from storage.s3 import S3WormStore, make_s3_client
from tests.storage.conftest import PART, make_store
from tests.support.seaweed import SeaweedError, SeaweedS3, find_weed

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def _private_server() -> Iterator[SeaweedS3]:
    if find_weed() is None:
        pytest.skip("the `weed` binary is not installed")
    server = SeaweedS3()
    try:
        server.start()
    except SeaweedError as exc:
        server.stop()
        pytest.skip(f"SeaweedFS did not start: {exc}")
    try:
        yield server
    finally:
        # It is throwaway: no need to wait for a graceful exit it never makes.
        server.kill()
        server.stop()


@pytest.fixture
def private_seaweed(_private_server: SeaweedS3) -> SeaweedS3:
    return _private_server.start()  # a no-op unless the previous test left it down


def test_server_down_then_back(private_seaweed: SeaweedS3) -> None:
    store = make_store(private_seaweed, f"t-{uuid.uuid4().hex[:20]}", max_attempts=1)
    store.put_bytes("ledger/seals/1.json", b"one")

    private_seaweed.kill()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as info:
        store.put_bytes("ledger/seals/2.json", b"two")
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "unreachable" in message and private_seaweed.endpoint in message
    with pytest.raises(StorageUnavailable):
        store.exists("ledger/seals/1.json")
    with pytest.raises(StorageUnavailable), store.begin_upload() as up:
        up.write(b"small evidence")
        up.commit()

    private_seaweed.start()
    store.put_bytes("ledger/seals/2.json", b"two")
    assert store.read_bytes("ledger/seals/1.json") == b"one"
    assert list(store.list_keys("ledger/")) == ["ledger/seals/1.json", "ledger/seals/2.json"]


def test_outage_mid_upload_is_reported_and_swept_after_restart(
    private_seaweed: SeaweedS3,
) -> None:
    store = make_store(private_seaweed, f"t-{uuid.uuid4().hex[:20]}", max_attempts=1)
    up = store.begin_upload()
    up.write(os.urandom(PART + 1))  # the first part is on the server now
    private_seaweed.kill()
    # Parts go up in the background: the outage is reported by the write that meets the
    # failed part, or at the latest by the commit.
    with pytest.raises(StorageUnavailable):
        up.write(os.urandom(PART))
        up.commit()
    private_seaweed.start()
    # The aborted upload could not be cleaned while the server was down.
    assert store.cleanup_staging() == 1
    assert store.cleanup_staging() == 0
    assert list(store.list_keys("")) == []


def test_nothing_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_s3_client(f"http://127.0.0.1:{port}", "key", "secret", max_attempts=1)
    store = S3WormStore(client, "no-such-server")
    with pytest.raises(StorageUnavailable, match=f"127.0.0.1:{port}.*unreachable"):
        store.ensure_bucket()
