"""The service on PostgreSQL + S3 (SeaweedFS): what reaches the bucket, checked at the server.

Uploads go through the HTTP API; every claim about protection is then checked with raw
boto3 calls against the S3 server, never through our store: the retention the server
holds, the deletes it refuses, the legal holds it reports, the sealed ledger it keeps.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import text

from app.audit import audit, rebuild
from app.auth.service import issue_token, list_principals
from custody.ledger import SEALS_PREFIX, TIMESTAMPS_PREFIX
from storage.keys import UPLOADS_PREFIX
from tests.api.conftest import fresh_pg_database
from tests.api.test_smoke import test_case_upload_download_custody as smoke_scenario
from tests.recovery.test_rebuild import populate
from tests.s3.conftest import S3Settings
from tests.s3.helpers import (
    download,
    error_code,
    key_of,
    legal_hold,
    new_case,
    original_version,
    retention,
    upload,
    versions,
)
from tests.support.live_server import LiveVault, live_vault
from verify.policy import VerificationPolicy
from verify.verifier import Verifier

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = [pytest.mark.s3, pytest.mark.postgres]

#: retention dates are computed by the vault a moment before the server stores them
SLACK = timedelta(minutes=2)


def _bucket(live: LiveVault) -> str:
    return live.settings.s3_bucket


def _near(actual: datetime, expected: datetime) -> bool:
    return abs(actual.astimezone(UTC) - expected) < SLACK


def _refused_delete(raw: S3Client, bucket: str, key: str, version: str) -> None:
    with pytest.raises(ClientError) as info:
        raw.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert error_code(info.value) == "AccessDenied", info.value.response


def test_smoke_scenario_on_s3(s3_live: LiveVault) -> None:
    """tests/api/test_smoke.py's main path, unchanged, on PostgreSQL + S3."""
    with s3_live.client("collector") as c:
        case_id = new_case(c, "Ransomware on FS01")
    smoke_scenario(s3_live, case_id)


def test_evidence_is_under_compliance_retention_at_the_server(
    s3_live: LiveVault, raw: S3Client
) -> None:
    data = os.urandom(64 * 1024)
    with s3_live.client("collector") as c:
        case_id = new_case(c, "Retention", retention_days=30)
        upload(c, case_id, data)
    key, bucket = key_of(data), _bucket(s3_live)
    [only] = versions(raw, bucket, key)
    version = str(only["VersionId"])
    mode, until = retention(raw, bucket, key, version)
    assert mode == "COMPLIANCE"
    assert _near(until, datetime.now(UTC) + timedelta(days=30)), until
    head = raw.head_object(Bucket=bucket, Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ContentLength"] == len(data)

    _refused_delete(raw, bucket, key, version)
    with pytest.raises(ClientError) as info:  # COMPLIANCE cannot be shortened either
        raw.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + SLACK},
        )
    assert error_code(info.value) == "AccessDenied"
    assert raw.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read() == data
    assert len(versions(raw, bucket, key)) == 1


def test_an_overwrite_is_a_new_version_and_the_original_is_served(
    s3_vault: Callable[..., AbstractContextManager[LiveVault]], raw: S3Client
) -> None:
    data = os.urandom(32 * 1024)
    forged = os.urandom(len(data))
    with s3_vault() as live, live.client("collector") as c:
        art = upload(c, new_case(c), data)["artifact"]
        key, bucket = key_of(data), _bucket(live)
        version = original_version(raw, bucket, key)
        before = retention(raw, bucket, key, version)

        put = raw.put_object(Bucket=bucket, Key=key, Body=forged)
        assert put["VersionId"] != version
        assert [v["VersionId"] for v in versions(raw, bucket, key)] == [put["VersionId"], version]
        assert raw.get_object(Bucket=bucket, Key=key)["Body"].read() == forged  # "latest"
        original = raw.get_object(Bucket=bucket, Key=key, VersionId=version)
        assert original["Body"].read() == data
        assert retention(raw, bucket, key, version) == before
        _refused_delete(raw, bucket, key, version)

        # The vault reads the version it wrote, not the newest one.
        got = download(c, art["id"])
        assert got.status_code == 200 and got.content == data
        report = audit(live.vault)
    failure = report.first_failure
    assert failure is not None and failure.name == "store versions", report.to_json()
    assert key in failure.detail and art["id"] in failure.detail


def test_undeclared_multipart_evidence_keeps_its_own_key_everywhere(
    s3_vault: Callable[..., AbstractContextManager[LiveVault]], raw: S3Client
) -> None:
    """A large upload without a declared SHA-256 is written once, under the upload's own
    key: the ingest event seals that key, the server locks and holds it like any
    evidence, and a forged version of it is named by the audit."""
    data = os.urandom(17 * (1 << 20) + 5)
    with s3_vault() as live, live.client("collector") as c:
        case_id = new_case(c, "Own key", retention_days=30)
        r = c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "d.img"}, content=data)
        assert r.status_code == 201, r.text
        art = r.json()["artifact"]
        chain = c.get(f"/v1/artifacts/{art['id']}/custody").json()
        [key] = [e["event"]["body"]["object_key"] for e in chain if e["event"]["type"] == "ingest"]
        bucket = _bucket(live)
        assert key.startswith(UPLOADS_PREFIX) and versions(raw, bucket, key_of(data)) == []
        [only] = versions(raw, bucket, key)
        version = str(only["VersionId"])
        mode, until = retention(raw, bucket, key, version)
        assert mode == "COMPLIANCE" and _near(until, datetime.now(UTC) + timedelta(days=30))
        _refused_delete(raw, bucket, key, version)
        with live.client("legal") as lg:
            r = lg.post(f"/v1/cases/{case_id}/hold", json={"on": True, "reason": "litigation"})
            assert r.status_code == 200, r.text
        assert legal_hold(raw, bucket, key) == "ON"
        assert audit(live.vault).ok
        raw.put_object(Bucket=bucket, Key=key, Body=b"forged")
        got = download(c, art["id"])
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == art["sha256"]
        report = audit(live.vault)
    failure = report.first_failure
    assert failure is not None and failure.name == "store versions", report.to_json()
    assert key in failure.detail and art["id"] in failure.detail


def test_legal_hold_follows_the_cases_that_reference_the_bytes(
    s3_live: LiveVault, raw: S3Client
) -> None:
    shared, only_a, later = os.urandom(20_000), os.urandom(20_001), os.urandom(20_002)
    bucket = _bucket(s3_live)
    with s3_live.client("collector") as c:
        case_a = new_case(c, "Case A", retention_days=30)
        case_b = new_case(c, "Case B", retention_days=90)
        upload(c, case_a, shared, "shared.bin")
        upload(c, case_a, only_a, "a.bin")
        dedup = upload(c, case_b, shared, "shared-again.bin")
        # stored once, but the receipt tells no case about another (ingest body v2)
        assert "deduplicated" not in dedup["receipt"]["event"]["body"]
    # One object for both cases, kept as long as the longer-lived case needs.
    [only] = versions(raw, bucket, key_of(shared))
    _, until = retention(raw, bucket, key_of(shared), str(only["VersionId"]))
    assert _near(until, datetime.now(UTC) + timedelta(days=90)), until

    def hold(case_id: str, on: bool) -> None:
        with s3_live.client("legal") as lg:
            r = lg.post(f"/v1/cases/{case_id}/hold", json={"on": on, "reason": "litigation"})
            assert r.status_code == 200, r.text

    def holds() -> tuple[str, str]:
        return legal_hold(raw, bucket, key_of(shared)), legal_hold(raw, bucket, key_of(only_a))

    assert holds() == ("OFF", "OFF")
    hold(case_a, True)
    assert holds() == ("ON", "ON")
    hold(case_b, True)
    with s3_live.client("collector") as c:  # evidence added to a held case is held at once
        upload(c, case_b, later, "later.bin")
    assert legal_hold(raw, bucket, key_of(later)) == "ON"
    hold(case_a, False)
    assert holds() == ("ON", "OFF"), "case B still holds the shared bytes"
    hold(case_b, False)
    assert holds() == ("OFF", "OFF")
    assert legal_hold(raw, bucket, key_of(later)) == "OFF"


def test_sealed_ledger_is_in_the_bucket_and_retained(s3_live: LiveVault, raw: S3Client) -> None:
    with s3_live.client("collector") as c:
        upload(c, new_case(c, "Ledger"), os.urandom(1000))
    bucket, engine = _bucket(s3_live), s3_live.vault.engine
    with engine.connect() as conn:
        sizes = [int(s) for (s,) in conn.execute(text("SELECT size FROM checkpoints"))]
        events = {
            int(i): bytes(c)
            for i, c in conn.execute(text("SELECT leaf_index, canonical FROM ledger_events"))
        }
        tokens = {
            (int(s), str(t)): bytes(d)
            for s, t, d in conn.execute(text("SELECT checkpoint_size, tsa, tsr FROM timestamps"))
        }
    assert sizes and tokens
    days = s3_live.settings.retention_days

    def locked_since_written(key: str) -> str:
        """One version, under COMPLIANCE for `days` from when it was written."""
        [only] = versions(raw, bucket, key)
        version = str(only["VersionId"])
        mode, until = retention(raw, bucket, key, version)
        assert mode == "COMPLIANCE", (key, mode)
        assert _near(until, only["LastModified"] + timedelta(days=days)), (key, until)
        return version

    seal_keys = sorted(
        str(o["Key"])
        for page in raw.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=SEALS_PREFIX
        )
        for o in page.get("Contents", [])
    )
    assert seal_keys == sorted(f"{SEALS_PREFIX}{s:015d}.json" for s in sizes)
    archived: dict[int, bytes] = {}
    for key in seal_keys:
        version = locked_since_written(key)
        doc = json.loads(raw.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read())
        for offset, event in enumerate(doc["events"]):
            archived[doc["first"] + offset] = base64.b64decode(event)
    assert archived == events  # every sealed event is in the bucket, byte for byte
    _refused_delete(raw, bucket, seal_keys[0], original_version(raw, bucket, seal_keys[0]))

    for (size, tsa), token in tokens.items():
        prefix = f"{TIMESTAMPS_PREFIX}{size:015d}/{tsa}"
        version = locked_since_written(f"{prefix}.tsr")
        locked_since_written(f"{prefix}.json")
        got = raw.get_object(Bucket=bucket, Key=f"{prefix}.tsr", VersionId=version)
        assert got["Body"].read() == token
        _refused_delete(raw, bucket, f"{prefix}.tsr", version)


@pytest.mark.parametrize("size", [100_000, 17 * (1 << 20) + 5], ids=["single-put", "multipart"])
def test_download_rehashes_and_matches(s3_live: LiveVault, size: int) -> None:
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    with s3_live.client("collector") as c:
        case_id = new_case(c, "Download")
        r = c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "disk.img"}, content=data)
        assert r.status_code == 201, r.text  # no declared digest: its own key for big ones
        art = r.json()["artifact"]
        got = download(c, art["id"])
        assert got.status_code == 200
        assert got.headers["x-locard-sha256"] == digest == art["sha256"]
        assert hashlib.sha256(got.content).hexdigest() == digest
        tail = c.get(
            f"/v1/artifacts/{art['id']}/content",
            params={"reason": "tail"},
            headers={"Range": "bytes=-4096"},
        )
        assert tail.status_code == 206 and tail.content == data[-4096:]


def test_audit_passes(s3_live: LiveVault) -> None:
    report = audit(s3_live.vault)
    assert report.ok, report.to_json()
    names = {c.name for c in report.checks}
    assert {"archive", "index events", "artifacts", "store versions"} <= names


def _verifier(live: LiveVault) -> Verifier:
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(live.vault.ledger.log_key,),
            trusted_tsa_roots=(live.vault.keyring.tsa.root_cert_der,),
        )
    )


def test_rebuild_from_the_s3_archive_into_an_empty_database(
    pg_url: str, pg_admin: str, s3_settings: S3Settings, raw: S3Client
) -> None:
    """Like tests/recovery, with the archive in S3: a new, empty PostgreSQL database is
    rebuilt from the bucket alone and audits clean."""
    settings = s3_settings(pg_url)
    with live_vault(settings) as live:
        before: dict[str, Any] = populate(live)
        assert audit(live.vault).ok
    bucket = settings.s3_bucket
    held_keys = {f"objects/sha256/{a['sha256']}" for a in before["artifacts"]}
    assert {legal_hold(raw, bucket, k) for k in held_keys} == {"ON"}

    with fresh_pg_database(pg_admin) as empty_url:
        restored = settings.model_copy(update={"database_url": empty_url})
        events, report = rebuild(restored)
        assert report.ok, report.to_json()
        assert events == before["checkpoint"]["size"]
        with live_vault(restored, users=False) as live:
            restored_cp = live.vault.ledger.checkpoint()
            # a new token is itself a sealed event: the ledger grows by one
            live.tokens["legal"] = issue_token(live.vault, "legal")
            with live.client("legal") as lg:
                assert lg.get("/v1/cases").json() == before["cases"]
                cid = before["cases"][0]["id"]
                assert lg.get(f"/v1/cases/{cid}/artifacts").json() == before["artifacts"]
                art = before["artifacts"][1]["id"]
                assert lg.get(f"/v1/artifacts/{art}/custody").json() == before["chain"]
                assert restored_cp.note.decode() == before["checkpoint"]["checkpoint"]
                cp = lg.get("/v1/ledger/checkpoint").json()
                assert cp["size"] == restored_cp.size + 1
                verifier = _verifier(live)
                for i in range(cp["size"]):
                    receipt = lg.get(f"/v1/ledger/receipts/{i}").json()
                    assert verifier.verify_receipt(receipt).ok, i
                got = download(lg, art, "after rebuild")
                assert got.status_code == 200
                assert hashlib.sha256(got.content).hexdigest() == before["artifacts"][1]["sha256"]
            assert "carol" in {p.id for p in list_principals(live.vault.engine)}
            assert audit(live.vault).ok
    # The rebuild only read the bucket: holds and versions are as they were.
    assert {legal_hold(raw, bucket, k) for k in held_keys} == {"ON"}
    assert all(len(versions(raw, bucket, k)) == 1 for k in held_keys)


def test_nothing_of_the_vault_lives_on_local_disk(s3_live: LiveVault) -> None:
    """With store=s3 the data directory holds keys only: no evidence, no seals."""
    store_dir: Path = s3_live.settings.store_dir
    assert not (store_dir / "objects").exists() and not (store_dir / "ledger").exists()
