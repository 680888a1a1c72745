"""What the S3 server itself enforces, checked with raw boto3 calls, not our wrapper.

The WORM claim rests on the server: these tests try to destroy or alter evidence the way
an attacker with the vault's credentials would, and expect the server to refuse.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from storage.base import Retention
from storage.errors import (
    IntegrityError,
    RetentionViolation,
    StorageMisconfigured,
)
from storage.s3 import S3WormStore, make_s3_client
from storage.s3_multipart import b64_crc32c, composite_crc32c
from tests.storage.conftest import PART, make_store
from tests.support.seaweed import SeaweedS3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.s3


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response.get("Error", {}).get("Code"))


def _b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _days(n: float) -> Retention:
    return Retention("COMPLIANCE", datetime.now(UTC) + timedelta(days=n))


def _store_evidence(
    store: S3WormStore, data: bytes, expected_sha256: str | None = None
) -> tuple[str, str]:
    with store.begin_upload(retention=_days(1), expected_sha256=expected_sha256) as up:
        up.write(data)
        key = up.commit().key
    head = store.client.head_object(Bucket=store.bucket, Key=key)
    return key, head["VersionId"]


# Small (single PUT), multipart at the upload's own key, and direct multipart with a declared
# digest.
PATHS = ["single", "own-key", "direct"]


def _data_for(path: str) -> tuple[bytes, str | None]:
    data = os.urandom(100 if path == "single" else 2 * PART + 7)
    return data, hashlib.sha256(data).hexdigest() if path == "direct" else None


@pytest.mark.parametrize("path", PATHS)
def test_compliance_version_cannot_be_deleted(
    s3_store: S3WormStore, s3_client: S3Client, path: str
) -> None:
    data, declared = _data_for(path)
    key, version = _store_evidence(s3_store, data, declared)
    retention = s3_client.get_object_retention(Bucket=s3_store.bucket, Key=key, VersionId=version)
    assert retention["Retention"]["Mode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as info:
        s3_client.delete_object(Bucket=s3_store.bucket, Key=key, VersionId=version)
    assert _code(info) == "AccessDenied"
    with pytest.raises(RetentionViolation):
        s3_store.delete(key)
    body = s3_client.get_object(Bucket=s3_store.bucket, Key=key, VersionId=version)["Body"]
    assert body.read() == data


def test_retention_cannot_be_shortened(s3_store: S3WormStore, s3_client: S3Client) -> None:
    key, version = _store_evidence(s3_store, b"evidence")
    with pytest.raises(ClientError) as info:
        s3_client.put_object_retention(
            Bucket=s3_store.bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": _days(0.5).until},
        )
    assert _code(info) == "AccessDenied"
    with pytest.raises(ClientError) as info:
        s3_client.put_object_retention(
            Bucket=s3_store.bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _days(30).until},
        )
    assert _code(info) == "AccessDenied"
    # Lengthening is allowed.
    s3_store.extend_retention(key, _days(10))
    got = s3_client.get_object_retention(Bucket=s3_store.bucket, Key=key, VersionId=version)
    assert got["Retention"]["RetainUntilDate"] > _days(9).until


def test_overwrite_makes_a_new_version_and_keeps_the_original(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    key, version = _store_evidence(s3_store, b"original bytes")
    s3_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b"forged bytes")
    versions = s3_client.list_object_versions(Bucket=s3_store.bucket, Prefix=key)["Versions"]
    assert len(versions) == 2
    original = s3_client.get_object(Bucket=s3_store.bucket, Key=key, VersionId=version)
    assert original["Body"].read() == b"original bytes"


def test_the_store_reads_and_protects_the_original_not_the_latest(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    """Whoever can PUT the key makes a newer version; the store must not follow it."""
    key, version = _store_evidence(s3_store, b"original bytes")
    fresh = S3WormStore(s3_store.client, s3_store.bucket, part_size=PART)  # nothing cached
    s3_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b"forged bytes!!")
    for store in (s3_store, fresh):
        assert store.read_bytes(key) == b"original bytes"
        assert b"".join(store.open_range(key)) == b"original bytes"
        assert b"".join(store.open_range(key, 9, 14)) == b"bytes"
        assert store.size(key) == len(b"original bytes")
        assert store.protection(key).retention is not None
    fresh.set_legal_hold(key, True)
    hold = s3_client.get_object_legal_hold(Bucket=s3_store.bucket, Key=key, VersionId=version)
    assert hold["LegalHold"]["Status"] == "ON"
    [shadowed] = fresh.shadowed_objects("objects/")
    assert shadowed.key == key and shadowed.original_version == version
    assert len(shadowed.foreign_versions) == 1 and shadowed.tampered
    assert not shadowed.delete_markers and not shadowed.hidden
    fresh.set_legal_hold(key, False)


def test_a_delete_marker_hides_but_does_not_destroy(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    key, version = _store_evidence(s3_store, b"evidence")
    s3_store.put_bytes("ledger/seals/000000000000001.json", b"{}")
    s3_client.delete_object(Bucket=s3_store.bucket, Key=key)  # no version: a marker
    with pytest.raises(ClientError):
        s3_client.head_object(Bucket=s3_store.bucket, Key=key)  # hidden from "latest"
    original = s3_client.get_object(Bucket=s3_store.bucket, Key=key, VersionId=version)
    assert original["Body"].read() == b"evidence"
    # The store still sees (and lists) the original, and names the marker.
    fresh = S3WormStore(s3_store.client, s3_store.bucket, part_size=PART)
    assert fresh.exists(key) and fresh.read_bytes(key) == b"evidence"
    assert list(fresh.list_keys("objects/")) == [key]
    [shadowed] = fresh.shadowed_objects("")
    assert shadowed.key == key and shadowed.hidden and len(shadowed.delete_markers) == 1
    assert not shadowed.foreign_versions
    assert "delete marker" in shadowed.describe()


def test_identical_later_versions_are_duplicates_not_tampering(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    s3_store.put_bytes("ledger/seals/000000000000001.json", b"{}")
    s3_client.put_object(
        Bucket=s3_store.bucket, Key="ledger/seals/000000000000001.json", Body=b"{}"
    )
    [shadowed] = s3_store.shadowed_objects("ledger/")
    assert len(shadowed.duplicate_versions) == 1 and not shadowed.tampered


def test_listing_groups_versions_across_pages(
    seaweed: SeaweedS3, s3_store: S3WormStore, s3_client: S3Client
) -> None:
    keys = [f"ledger/seals/{i:015d}.json" for i in range(5)]
    for k in keys:
        s3_store.put_bytes(k, k.encode())
        s3_client.put_object(Bucket=s3_store.bucket, Key=k, Body=b"forged")
    paged = make_s3_client(seaweed.endpoint, seaweed.access_key, seaweed.secret_key)
    store = S3WormStore(paged, s3_store.bucket, part_size=PART)
    paged.meta.events.register(
        "before-parameter-build.s3.ListObjectVersions",
        lambda params, **_: params.__setitem__("MaxKeys", 3),
    )
    pages: list[int] = []
    paged.meta.events.register("after-call.s3.ListObjectVersions", lambda **_: pages.append(1))
    assert list(store.list_keys("ledger/")) == keys
    assert len(pages) >= 3  # 10 versions, 3 per page: keys split across pages
    assert [s.key for s in store.shadowed_objects("ledger/")] == keys
    assert all(store.read_bytes(k) == k.encode() for k in keys)


def test_legal_hold_blocks_delete(s3_store: S3WormStore, s3_client: S3Client) -> None:
    key = "exports/held.bin"
    s3_store.put_bytes(key, b"held")  # no retention: only the hold protects it
    version = s3_client.head_object(Bucket=s3_store.bucket, Key=key)["VersionId"]
    s3_store.set_legal_hold(key, True)
    hold = s3_client.get_object_legal_hold(Bucket=s3_store.bucket, Key=key, VersionId=version)
    assert hold["LegalHold"]["Status"] == "ON"
    with pytest.raises(ClientError) as info:
        s3_client.delete_object(Bucket=s3_store.bucket, Key=key, VersionId=version)
    assert _code(info) == "AccessDenied"
    s3_store.set_legal_hold(key, False)
    s3_client.delete_object(Bucket=s3_store.bucket, Key=key, VersionId=version)


def test_governance_needs_bypass(s3_store: S3WormStore, s3_client: S3Client) -> None:
    governed = Retention("GOVERNANCE", datetime.now(UTC) + timedelta(days=1))
    s3_store.put_bytes("exports/gov.bin", b"gov", retention=governed)
    version = s3_client.head_object(Bucket=s3_store.bucket, Key="exports/gov.bin")["VersionId"]
    with pytest.raises(RetentionViolation):
        s3_store.delete("exports/gov.bin")
    s3_client.delete_object(
        Bucket=s3_store.bucket,
        Key="exports/gov.bin",
        VersionId=version,
        BypassGovernanceRetention=True,
    )


def test_wrong_checksum_is_refused(s3_store: S3WormStore, s3_client: S3Client) -> None:
    with pytest.raises(ClientError) as info:
        s3_client.put_object(
            Bucket=s3_store.bucket, Key="ledger/x", Body=b"payload", ChecksumSHA256=_b64(b"other")
        )
    assert _code(info) == "BadDigest"
    assert not s3_store.exists("ledger/x")
    upload_id = s3_client.create_multipart_upload(
        Bucket=s3_store.bucket, Key="staging/p", ChecksumAlgorithm="SHA256"
    )["UploadId"]
    with pytest.raises(ClientError) as info:
        s3_client.upload_part(
            Bucket=s3_store.bucket,
            Key="staging/p",
            UploadId=upload_id,
            PartNumber=1,
            Body=b"part",
            ChecksumSHA256=_b64(b"other"),
        )
    assert _code(info) == "BadDigest"
    s3_client.abort_multipart_upload(Bucket=s3_store.bucket, Key="staging/p", UploadId=upload_id)


def test_part_damaged_in_transit_is_refused_without_payload_signing(
    s3_store: S3WormStore,
) -> None:
    """The store's client sends bodies unsigned (UNSIGNED-PAYLOAD): the per-part CRC32C
    is then the only check of the bytes, and the server must enforce it."""
    client = s3_store.client
    upload_id = client.create_multipart_upload(
        Bucket=s3_store.bucket, Key="staging/q", ChecksumAlgorithm="CRC32C"
    )["UploadId"]
    sent = os.urandom(6 << 20)
    damaged = sent[:-1] + bytes([sent[-1] ^ 1])
    with pytest.raises(ClientError) as info:
        client.upload_part(
            Bucket=s3_store.bucket,
            Key="staging/q",
            UploadId=upload_id,
            PartNumber=1,
            Body=damaged,
            ChecksumCRC32C=b64_crc32c(sent),
        )
    assert _code(info) == "BadDigest"
    client.abort_multipart_upload(Bucket=s3_store.bucket, Key="staging/q", UploadId=upload_id)


@pytest.mark.parametrize("path", PATHS)
def test_stored_checksum_matches_what_we_hashed(
    s3_store: S3WormStore, s3_client: S3Client, path: str
) -> None:
    data, declared = _data_for(path)
    key, _ = _store_evidence(s3_store, data, declared)
    head = s3_client.head_object(Bucket=s3_store.bucket, Key=key, ChecksumMode="ENABLED")
    if path == "single":
        assert head["ChecksumSHA256"] == _b64(data)
    else:
        parts = [data[i : i + PART] for i in range(0, len(data), PART)]
        assert head["ChecksumCRC32C"] == composite_crc32c([b64_crc32c(p) for p in parts])
        assert head["ETag"].endswith(f'-{len(parts)}"')


def test_default_retention_applies_to_ledger_writes(seaweed: SeaweedS3, bucket_name: str) -> None:
    store = make_store(seaweed, bucket_name, default_retention_days=30)
    store.put_bytes("ledger/seals/000000000000001.json", b"{}")
    got = store.client.get_object_retention(
        Bucket=bucket_name, Key="ledger/seals/000000000000001.json"
    )
    assert got["Retention"]["Mode"] == "COMPLIANCE"
    assert got["Retention"]["RetainUntilDate"] > _days(29).until
    with pytest.raises(RetentionViolation):
        store.delete("ledger/seals/000000000000001.json")


def test_ensure_bucket_creates_with_object_lock_and_is_idempotent(
    seaweed: SeaweedS3, bucket_name: str, s3_client: S3Client
) -> None:
    store = make_store(seaweed, bucket_name)
    store.ensure_bucket()
    lock = s3_client.get_object_lock_configuration(Bucket=bucket_name)
    assert lock["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    assert s3_client.get_bucket_versioning(Bucket=bucket_name)["Status"] == "Enabled"


def test_bucket_without_object_lock_is_refused(
    seaweed: SeaweedS3, bucket_name: str, s3_client: S3Client
) -> None:
    s3_client.create_bucket(Bucket=bucket_name)
    with pytest.raises(StorageMisconfigured, match="without Object Lock"):
        make_store(seaweed, bucket_name)


def test_wrong_secret_is_refused(seaweed: SeaweedS3, s3_store: S3WormStore) -> None:
    client = make_s3_client(seaweed.endpoint, seaweed.access_key, "wrong-secret", max_attempts=1)
    bad = S3WormStore(client, s3_store.bucket, part_size=PART)
    with pytest.raises(StorageMisconfigured, match="refused"):
        bad.put_bytes("ledger/x", b"x")
    assert not s3_store.exists("ledger/x")


def test_stored_object_of_wrong_size_is_reported(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    data = b"the real content"
    key = "objects/sha256/" + hashlib.sha256(data).hexdigest()
    s3_client.put_object(Bucket=s3_store.bucket, Key=key, Body=b"planted")
    with pytest.raises(IntegrityError), s3_store.begin_upload() as up:
        up.write(data)
        up.commit()


@pytest.mark.xfail(
    reason="SeaweedFS 4.48 drops Object Lock settings on CopyObject (explicit headers and "
    "the bucket default); S3WormStore copies with UploadPartCopy instead",
    strict=False,
)
def test_server_locks_objects_made_by_copy_object(
    s3_store: S3WormStore, s3_client: S3Client
) -> None:
    s3_client.put_object(Bucket=s3_store.bucket, Key="staging/src", Body=b"copy me")
    s3_client.copy_object(
        Bucket=s3_store.bucket,
        Key="exports/copied",
        CopySource={"Bucket": s3_store.bucket, "Key": "staging/src"},
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=_days(1).until,
    )
    got = s3_client.get_object_retention(Bucket=s3_store.bucket, Key="exports/copied")
    assert got["Retention"]["Mode"] == "COMPLIANCE"


def test_missing_credentials_are_a_configuration_error(
    seaweed: SeaweedS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = make_s3_client(seaweed.endpoint, None, None, max_attempts=1)
    with pytest.raises(StorageMisconfigured, match="no usable S3 credentials"):
        S3WormStore(client, "any-bucket", part_size=PART).ensure_bucket()
