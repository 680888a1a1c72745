"""On S3 the whole tiled log sits under one bucket prefix: tiles written once, and the
checkpoint (the one mutable key) beside them, so a static S3 server serves the log."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from app.audit import audit
from custody.audit import StoreTampering
from custody.tiles import TILES_PREFIX
from storage.keys import TLOG_CHECKPOINT_KEY
from tests.s3.helpers import versions
from tests.support.live_server import LiveVault
from tests.support.tlog_reader import TileReader, verify_checkpoint

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _bucket_checkpoint(raw: S3Client, bucket: str) -> bytes | None:
    try:
        return raw.get_object(Bucket=bucket, Key=TLOG_CHECKPOINT_KEY)["Body"].read()
    except raw.exceptions.NoSuchKey:
        return None


def test_the_bucket_serves_the_checkpoint_beside_its_tiles(
    s3_vault: Callable[..., AbstractContextManager[LiveVault]], raw: S3Client
) -> None:
    with s3_vault() as live:
        bucket = live.settings.s3_bucket
        with live.client("collector") as c:
            for n in range(3):  # three seals, so the checkpoint is replaced more than once
                r = c.post("/v1/cases", json={"title": f"tlog {n}", "severity": "P3"})
                assert r.status_code == 201, r.text
        sealed = int(r.json()["receipt"]["leaf_index"])
        log_key = live.vault.ledger.log_key
        deadline = time.monotonic() + 10 * live.settings.tlog_interval_ms / 1000 + 5
        while True:
            note = _bucket_checkpoint(raw, bucket)
            size = verify_checkpoint(note, log_key).size if note else 0
            if size > sealed or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert note is not None and size > sealed
        cp = verify_checkpoint(note, log_key)

        def from_bucket(path: str) -> bytes:
            return bytes(raw.get_object(Bucket=bucket, Key=TILES_PREFIX + path)["Body"].read())

        # A tiles client pointed at the bucket prefix alone gets the signed tree.
        assert TileReader(from_bucket, cp.size).root() == cp.root
        # The vault serves the same checkpoint; the bucket keeps one version of it, not one
        # per publication, and holds it under no retention.
        assert live.client().get("/tlog/checkpoint").content == note
        kept = versions(raw, bucket, TLOG_CHECKPOINT_KEY)
        assert len(kept) == 1, kept
        assert "ObjectLockMode" not in raw.head_object(Bucket=bucket, Key=TLOG_CHECKPOINT_KEY)

        # The replaced checkpoint is no tampering; a second version of a tile is.
        assert audit(live.vault).ok, audit(live.vault).to_json()
        tile = TILES_PREFIX + "tile/0/000.p/1"
        raw.put_object(Bucket=bucket, Key=tile, Body=b"\0" * 32)
        report = audit(live.vault)
        assert not report.ok
        failure = report.first_failure
        assert failure is not None and isinstance(failure.error, StoreTampering)
        assert failure.error.subject == tile
