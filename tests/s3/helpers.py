"""Looking at the S3 server directly (raw boto3), and driving the API, for the S3 tests."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from botocore.exceptions import ClientError

from storage.keys import content_key
from tests.support.seaweed import SeaweedS3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def new_bucket() -> str:
    return f"locard-{uuid.uuid4().hex[:20]}"


def s3_overrides(seaweed: SeaweedS3, bucket: str | None = None) -> dict[str, Any]:
    """Settings fields for a vault on this SeaweedFS (a new bucket unless given)."""
    return {
        "store": "s3",
        "s3_endpoint": seaweed.endpoint,
        "s3_bucket": bucket or new_bucket(),
        "s3_access_key": seaweed.access_key,
        "s3_secret_key": seaweed.secret_key,
        "s3_region": seaweed.region,
    }


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def versions(raw: S3Client, bucket: str, key: str) -> list[dict[str, Any]]:
    """Every version of exactly `key`, newest first, as the server lists them."""
    found: list[dict[str, Any]] = []
    for page in raw.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        found += [dict(v) for v in page.get("Versions", []) if v.get("Key") == key]
    return found


def original_version(raw: S3Client, bucket: str, key: str) -> str:
    """The version the vault wrote: the oldest one."""
    listed = versions(raw, bucket, key)
    assert listed, f"{key} has no version at the server"
    return str(listed[-1]["VersionId"])


def retention(raw: S3Client, bucket: str, key: str, version: str) -> tuple[str, datetime]:
    got = raw.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    return str(got.get("Mode")), got["RetainUntilDate"]


def legal_hold(raw: S3Client, bucket: str, key: str) -> str:
    """ON/OFF of the original version's legal hold (OFF if never set)."""
    version = original_version(raw, bucket, key)
    try:
        got = raw.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)
    except ClientError as exc:
        if error_code(exc) in ("NoSuchObjectLegalHold", "NoSuchObjectLockConfiguration"):
            return "OFF"
        raise
    return str(got["LegalHold"].get("Status", "OFF"))


def key_of(data: bytes) -> str:
    return content_key(hashlib.sha256(data).hexdigest())


def new_case(c: httpx.Client, title: str = "Intrusion", **fields: Any) -> str:
    r = c.post("/v1/cases", json={"title": title, "severity": "P1", **fields})
    assert r.status_code == 201, r.text
    case = str(r.json()["case"]["id"])
    # legal joins, so that custody can be handed to it (transfers go to members only)
    r = c.post(f"/v1/cases/{case}/members", json={"principal": "legal"})
    assert r.status_code == 201, r.text
    return case


def upload(
    c: httpx.Client, case_id: str, data: bytes, name: str = "evidence.bin"
) -> dict[str, Any]:
    r = c.post(
        f"/v1/cases/{case_id}/artifacts",
        params={"file_name": name, "sha256": hashlib.sha256(data).hexdigest()},
        content=data,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def download(c: httpx.Client, artifact_id: str, reason: str = "review") -> httpx.Response:
    return c.get(f"/v1/artifacts/{artifact_id}/content", params={"reason": reason})
