"""Two API server processes on one PostgreSQL database and one S3 bucket, under load.

The harness is bench/concurrency.py's, with the issue's N=50 clients for T=60 s (the
benchmark adds a one-server baseline and reports the figures): init
once, two `locard serve` processes started together on the same data directory, N
clients uploading small random files and downloading earlier ones for T seconds, each
request to the next server in turn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.concurrency import Cluster, S3Target, check, cluster, run_load
from tests.s3.conftest import start_seaweed
from tests.s3.helpers import new_bucket
from tests.support.seaweed import SeaweedS3

pytestmark = [pytest.mark.s3, pytest.mark.postgres, pytest.mark.slow]

#: the issue's 50 clients for 60 s
CLIENTS = 50
SECONDS = 60.0


@pytest.fixture(scope="module")
def seaweed() -> Iterator[SeaweedS3]:
    server = start_seaweed()
    try:
        yield server
    finally:
        server.kill()
        server.stop()


@pytest.fixture
def two_servers(seaweed: SeaweedS3, pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    s3 = S3Target(seaweed.endpoint, seaweed.access_key, seaweed.secret_key, new_bucket())
    # Short seals: more of them, so the two processes contend for the ledger more often.
    with cluster(tmp_path / "vault", pg_url, s3, servers=2, seal_interval_ms=50) as c:
        yield c


def test_concurrent_clients_on_two_servers(two_servers: Cluster) -> None:
    run = run_load(two_servers, CLIENTS, SECONDS)
    kinds = Counter(o.kind for o in run.ops)
    failed = run.failures()
    assert not failed, f"{len(failed)} failed, e.g. {failed[0]}\n{two_servers.log_tails()}"
    # Both servers did real work, both kinds of request ran, and the ledger grew by the
    # acknowledged events (plus nothing else: no other writer was running).
    assert {o.server for o in run.ops} == {0, 1}
    assert kinds["upload"] >= 2 * CLIENTS and kinds["download"] >= CLIENTS, kinds
    acked = [o for o in run.ops if o.index is not None]
    assert run.ledger_after - run.ledger_before == len(acked) + CLIENTS  # + case.created
    verdict = check(two_servers, [run])
    assert verdict.ok, (verdict.problems, verdict.audit)
    assert verdict.receipts == len(acked)
