"""Two API server processes on one PostgreSQL database and one S3 bucket, under load.

The harness is bench/concurrency.py's, with the issue's N=50 clients for T=60 s (the
benchmark adds a one-server baseline and reports the figures): init
once, two `locard serve` processes started together on the same data directory, N
clients uploading small random files and downloading earlier ones for T seconds, each
request to the next server in turn.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.concurrency import Cluster, S3Target, check, cli, cluster, run_load
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


def test_a_transfer_sealed_by_one_server_is_read_at_once_by_the_other(
    two_servers: Cluster,
) -> None:
    """Each server keeps artifact rows in memory; a custody transfer sealed by one is
    announced to the other (NOTIFY), which reads the new custodian well before its cache's
    30 s backstop would have let the old one go."""
    cli(
        two_servers.env,
        "user",
        "add",
        "second",
        "--role",
        "collector",
        "--data-dir",
        str(two_servers.data_dir),
    )
    first, second = (
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {two_servers.collector}"})
        for url in two_servers.urls
    )
    with first, second:
        r = first.post("/v1/cases", json={"title": "Hand-over", "severity": "P2"})
        case = r.json()["case"]["id"]
        assert (
            first.post(f"/v1/cases/{case}/members", json={"principal": "second"}).status_code == 201
        )
        r = first.post(f"/v1/cases/{case}/artifacts", params={"file_name": "a"}, content=b"bytes")
        art = r.json()["artifact"]["id"]
        for _ in range(2):  # cached by both
            for client in (first, second):
                assert client.get(f"/v1/artifacts/{art}").json()["custodian"] == "bench-collector"
        r = second.post(f"/v1/artifacts/{art}/transfers", json={"to": "second", "reason": "shift"})
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 5
        while first.get(f"/v1/artifacts/{art}").json()["custodian"] != "second":
            assert time.monotonic() < deadline, "the other server kept serving the old custodian"
            time.sleep(0.02)
