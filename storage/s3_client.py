"""boto3 client construction and botocore error → typed storage error translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from storage.errors import (
    IntegrityError,
    ObjectNotFound,
    StorageError,
    StorageMisconfigured,
    StorageUnavailable,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchVersion"})
PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})
# AWS answers 409 when a concurrent If-None-Match write to the same key is in flight.
CONFLICT_CODES = frozenset({"ConditionalRequestConflict", "409"})
_CORRUPTION_CODES = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
)
_BUSY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"})


def make_s3_client(
    endpoint_url: str | None,
    access_key: str | None,
    secret_key: str | None,
    region: str = "us-east-1",
    *,
    connect_timeout: float = 5,
    read_timeout: float = 60,
    max_attempts: int = 3,
    path_style: bool = True,
) -> S3Client:
    """A client for AWS (endpoint None) or any S3-compatible server.

    Path-style addressing by default because self-hosted servers rarely have wildcard DNS.
    Few retries with short timeouts: an outage should surface as StorageUnavailable in
    seconds, not after botocore's minutes of back-off.
    """
    config = Config(
        region_name=region,
        # Every body we send carries a checksum header the server verifies (CRC32C per
        # part, SHA-256 for single puts, botocore's own otherwise). On plain-HTTP endpoints
        # botocore would also SHA-256 every body for the signature: a second pass over
        # each byte that guards nothing the checksum does not.
        s3={
            "addressing_style": "path" if path_style else "auto",
            "payload_signing_enabled": False,
        },
        max_pool_connections=16,
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def translate(
    exc: ClientError,
    *,
    what: str,
    bucket: str,
    key: str | None = None,
    denied: type[StorageError] = StorageMisconfigured,
) -> StorageError:
    """The typed error for a ClientError. `denied` is what AccessDenied means here:
    for deletes and retention changes it is the server enforcing Object Lock."""
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "") or str(exc)
    status = http_status(exc)
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    if code in NOT_FOUND_CODES and key is not None:
        return ObjectNotFound(key)
    if code == "NoSuchBucket":
        return StorageMisconfigured(f"bucket {bucket} does not exist (run ensure_bucket)")
    if code == "AccessDenied":
        return denied(f"{what} {where}: the server refused (AccessDenied: {message})")
    if code in _CREDENTIAL_CODES:
        return StorageMisconfigured(f"{what} {where}: credentials refused ({code})")
    if status == 403:
        # HEAD responses carry no error body: a bare 403 cannot be told apart further.
        return StorageMisconfigured(
            f"{what} {where}: access refused (HTTP 403): wrong credentials or no permission"
        )
    if code in _CORRUPTION_CODES:
        return IntegrityError(f"{what} {where}: checksum mismatch in transit ({code})")
    if code in _BUSY_CODES or status >= 500:
        return StorageUnavailable(f"{what} {where}: S3 server error {code or status}: {message}")
    return StorageError(f"{what} {where}: {code or status}: {message}")


@contextmanager
def s3_errors(
    client: S3Client,
    *,
    what: str,
    bucket: str,
    key: str | None = None,
    denied: type[StorageError] = StorageMisconfigured,
) -> Iterator[None]:
    """Run S3 calls, raising typed storage errors instead of botocore's."""
    try:
        yield
    except ClientError as exc:
        raise translate(exc, what=what, bucket=bucket, key=key, denied=denied) from exc
    except (BotoConnectionError, HTTPClientError) as exc:
        raise StorageUnavailable(
            f"S3 endpoint {client.meta.endpoint_url} is unreachable ({what}): {exc}"
        ) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise StorageMisconfigured(
            f"{what}: no usable S3 credentials for {client.meta.endpoint_url or 'AWS'}: {exc}"
        ) from exc
    except BotoCoreError as exc:
        raise StorageError(f"{what}: {exc}") from exc
