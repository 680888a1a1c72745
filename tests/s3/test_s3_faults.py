"""Faults under the service: the S3 server dying mid-upload or absent at startup, and the
local store's disk filling up. Each must end in a clear error, nothing recorded, and a
retry that succeeds once the fault is gone.

The S3 tests kill a SeaweedFS instance of their own (the session's is shared).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from app.audit import audit
from app.settings import Settings
from app.vault import init_vault, open_vault
from storage.errors import StorageUnavailable
from tests.s3.conftest import start_seaweed
from tests.s3.helpers import new_case, s3_overrides
from tests.support.live_server import LiveVault, free_port, live_vault, make_settings
from tests.support.seaweed import SeaweedS3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1 << 20
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def _private_server() -> Iterator[SeaweedS3]:
    server = start_seaweed()
    try:
        yield server
    finally:
        server.kill()
        server.stop()


@pytest.fixture
def private(_private_server: SeaweedS3) -> SeaweedS3:
    """This module's own SeaweedFS, running (a previous test may have left it down)."""
    return _private_server.start()


def _artifact_rows(live: LiveVault) -> int:
    with live.vault.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM artifacts")).scalar_one())


def _leftovers(raw: S3Client, bucket: str) -> list[str]:
    """Unfinished multipart uploads and staging objects (every version)."""
    uploads = [u["Key"] for u in raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    staged = raw.list_object_versions(Bucket=bucket, Prefix="staging/")
    return sorted(
        uploads
        + [f"{v['Key']}@{v['VersionId']}" for v in staged.get("Versions", [])]
        + [f"{m['Key']}@{m['VersionId']}" for m in staged.get("DeleteMarkers", [])]
    )


def _parts_uploaded(raw: S3Client, bucket: str) -> int:
    for upload in raw.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        parts = raw.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return len(parts.get("Parts", []))
    return 0


@pytest.mark.s3
@pytest.mark.postgres
def test_s3_dies_mid_upload(private: SeaweedS3, pg_url: str, tmp_path: Path) -> None:
    """The server is killed after the first 16 MiB part reached it; the upload's next S3
    call fails. The client gets 503 storage_unavailable, nothing is recorded, and once
    S3 is back a retry succeeds and cleanup_staging removes the orphaned parts."""
    raw = private.client()
    settings = make_settings(tmp_path / "vault", pg_url, **s3_overrides(private))
    data = os.urandom(20 * MiB)
    with live_vault(settings) as live, live.client("collector") as c:
        case_id = new_case(c, "Outage")
        bucket = settings.s3_bucket
        size_before, rows_before = live.vault.ledger.size(), _artifact_rows(live)

        def body() -> Iterator[bytes]:
            for i in range(0, len(data), MiB):
                if i == 17 * MiB:  # the first part is on its way: wait until S3 has it
                    deadline = time.monotonic() + 30
                    while _parts_uploaded(raw, bucket) < 1:
                        assert time.monotonic() < deadline, "part 1 never reached S3"
                        time.sleep(0.05)
                    private.kill()
                yield data[i : i + MiB]

        started = time.monotonic()
        r = c.post(
            f"/v1/cases/{case_id}/artifacts", params={"file_name": "disk.img"}, content=body()
        )
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "storage_unavailable"
        assert private.endpoint in r.json()["detail"]
        assert time.monotonic() - started < 60
        assert live.vault.ledger.size() == size_before
        assert _artifact_rows(live) == rows_before
        assert c.get(f"/v1/cases/{case_id}/artifacts").json() == []

        private.start()
        assert raw.list_object_versions(Bucket=bucket, Prefix="objects/").get("Versions") is None
        left = _leftovers(raw, bucket)
        assert left, "the killed upload's parts are expected to outlive the outage"
        r = c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "disk.img"}, content=data)
        assert r.status_code == 201, r.text
        assert r.json()["artifact"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert live.vault.ledger.size() == size_before + 1
        assert live.vault.store.cleanup_staging(older_than_s=0) >= 1
        assert _leftovers(raw, bucket) == []
        got = c.get(f"/v1/artifacts/{r.json()['artifact']['id']}/content", params={"reason": "x"})
        assert got.status_code == 200 and got.content == data
        assert audit(live.vault).ok


@pytest.mark.s3
@pytest.mark.postgres
def test_s3_down_when_the_vault_starts(private: SeaweedS3, pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", pg_url, **s3_overrides(private))
    init_vault(settings)
    private.kill()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as info:
        open_vault(settings)
    assert time.monotonic() - started < 30
    assert "unreachable" in str(info.value) and private.endpoint in str(info.value)

    # The server process says the same and exits.
    env = {
        **os.environ,
        "LOCARD_DATABASE_URL": pg_url,
        "LOCARD_STORE": "s3",
        "LOCARD_S3_ENDPOINT": private.endpoint,
        "LOCARD_S3_BUCKET": settings.s3_bucket,
        "LOCARD_S3_ACCESS_KEY": private.access_key,
        "LOCARD_S3_SECRET_KEY": private.secret_key,
    }
    cmd = [sys.executable, "-m", "cli.main", "serve", "--data-dir", str(settings.data_dir)]
    cmd += ["--port", str(free_port())]
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "StorageUnavailable" in done.stderr and private.endpoint in done.stderr

    private.start()
    vault = open_vault(settings)
    try:
        assert audit(vault).ok
    finally:
        vault.close()


@pytest.mark.s3
@pytest.mark.postgres
def test_init_with_s3_down_can_be_retried(private: SeaweedS3, pg_url: str, tmp_path: Path) -> None:
    """A failed init leaves no keys behind that would make the next attempt refuse."""
    settings = make_settings(tmp_path / "vault", pg_url, **s3_overrides(private))
    private.kill()
    with pytest.raises(StorageUnavailable):
        init_vault(settings)
    assert not settings.keys_dir.exists()
    private.start()
    init_vault(settings)
    assert (settings.keys_dir / "vault.json").exists()


# -- the local store's disk fills up ---------------------------------------------------


@pytest.fixture
def tiny_store(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 8 MiB mounted where the vault's local store lives."""
    store = tmp_path / "vault" / "store"
    store.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(store)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield store
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


@pytest.mark.postgres
def test_local_disk_full(tiny_store: Path, pg_url: str, tmp_path: Path) -> None:
    # No reserve: on 8 MiB the default would make the vault read-only. The upload is then
    # refused by its Content-Length before its body is read (tests/disk covers the rest).
    settings: Settings = make_settings(tmp_path / "vault", pg_url, reserve_free_bytes=0)
    assert settings.store_dir == tiny_store
    with live_vault(settings) as live, live.client("collector") as c:
        case_id = new_case(c, "Disk full")
        filler = tiny_store / "filler.bin"  # beside the store's own directories
        filler.write_bytes(b"\0" * (5 * MiB))
        size_before, rows_before = live.vault.ledger.size(), _artifact_rows(live)
        data = os.urandom(4 * MiB)

        r = c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "m.raw"}, content=data)
        assert r.status_code == 507, r.text
        assert r.json()["error"] == "insufficient_storage" and r.json()["detail"]
        assert live.vault.ledger.size() == size_before
        assert _artifact_rows(live) == rows_before
        assert list((tiny_store / "staging").iterdir()) == []
        assert not (tiny_store / "objects").exists() or not any(
            p.is_file() for p in (tiny_store / "objects").rglob("*")
        )

        filler.unlink()  # the operator frees space
        r = c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "m.raw"}, content=data)
        assert r.status_code == 201, r.text
        got = c.get(f"/v1/artifacts/{r.json()['artifact']['id']}/content", params={"reason": "x"})
        assert got.status_code == 200 and got.content == data
        assert audit(live.vault).ok
