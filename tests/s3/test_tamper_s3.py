"""Tampering on PostgreSQL + S3, applied behind the vault's back, must be named by the audit.

S3 tampers go straight to the bucket with the vault's own credentials (what an insider
or a stolen key can do): PUT a key again, DELETE it without a version id. Object Lock
keeps the original version, so the store always reads that version by id; the audit
names every foreign version and delete marker. Tampering below the S3 API (the filer
deleting a locked version outright) is caught by re-hashing, and a download then fails
with 503 and a reason. The database tampers are tests/tamper's own functions, run on
PostgreSQL with the archive in S3.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.audit import audit, rebuild
from app.settings import Settings
from app.vault import Vault, open_vault
from custody.audit import StoreTampering
from custody.ledger import SEALS_PREFIX
from tests.api.conftest import fresh_pg_database
from tests.s3.conftest import S3Settings
from tests.s3.helpers import original_version, s3_overrides, versions
from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.support.seaweed import SeaweedS3
from tests.tamper.test_audit_tamper import (
    CASES,
    edit_archived_seal,
    flip_artifact_byte,
    replace_artifact_same_size,
)
from verify.errors import ArtifactHashMismatch, ArtifactUnreadable, VerificationError
from verify.report import Report

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = [pytest.mark.s3, pytest.mark.postgres]


@dataclass
class Scene:
    live: LiveVault
    raw: S3Client
    seaweed: SeaweedS3
    #: artifact id -> (object key, original bytes), in upload order
    artifacts: dict[str, tuple[str, bytes]]

    @property
    def bucket(self) -> str:
        return self.live.settings.s3_bucket

    @property
    def settings(self) -> Settings:
        return self.live.settings

    def key(self, n: int) -> str:
        return list(self.artifacts.values())[n][0]

    def data(self, n: int) -> bytes:
        return list(self.artifacts.values())[n][1]

    def seal_keys(self) -> list[str]:
        pages = self.raw.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=SEALS_PREFIX
        )
        return sorted(str(o["Key"]) for p in pages for o in p.get("Contents", []))


def populate(live: LiveVault) -> dict[str, tuple[str, bytes]]:
    """tests/tamper's events, in the same order: its tampers rely on the indices."""
    artifacts: dict[str, tuple[str, bytes]] = {}
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Intrusion", "severity": "P1"})
        cid = r.json()["case"]["id"]
        for i in range(3):
            data = os.urandom(4096)
            r = c.post(
                f"/v1/cases/{cid}/artifacts", params={"file_name": f"log-{i}.txt"}, content=data
            )
            assert r.status_code == 201, r.text
            art = r.json()["artifact"]
            artifacts[art["id"]] = (f"objects/sha256/{art['sha256']}", data)
        c.get(f"/v1/artifacts/{art['id']}/content", params={"reason": "triage"})
        c.post(f"/v1/artifacts/{art['id']}/annotations", json={"text": "looks bad"})
    with opened(live.settings) as v:
        assert audit(v).ok
    return artifacts


@pytest.fixture
def scene(
    pg_url: str, s3_settings: S3Settings, raw: S3Client, seaweed: SeaweedS3
) -> Iterator[Scene]:
    """tests/tamper's vault on PostgreSQL with its store in a bucket of its own."""
    with live_vault(s3_settings(pg_url)) as live:
        yield Scene(live, raw, seaweed, populate(live))


@contextmanager
def opened(settings: Settings) -> Iterator[Vault]:
    """A vault opened afresh, as `locard audit` does: nothing cached from the server."""
    v = open_vault(settings, start=False)
    try:
        yield v
    finally:
        v.close()


def fresh_audit(settings: Settings) -> Report:
    with opened(settings) as v:
        return audit(v)


def assert_named(report: Report, check: str, error: type[VerificationError], *words: str) -> None:
    failure = report.first_failure
    assert failure is not None, "the tampering went unnoticed"
    assert failure.name == check, report.to_json()
    assert isinstance(failure.error, error), report.to_json()
    for word in words:
        assert word in failure.detail, (word, failure.detail)


# -- tampering with the bucket through the S3 API -------------------------------------


def overwrite_artifact_same_size(s: Scene) -> str:
    key = s.key(0)
    s.raw.put_object(Bucket=s.bucket, Key=key, Body=os.urandom(len(s.data(0))))
    return key


def flip_artifact_byte_s3(s: Scene) -> str:
    key = s.key(0)
    data = bytearray(s.raw.get_object(Bucket=s.bucket, Key=key)["Body"].read())
    data[100] ^= 0x01
    s.raw.put_object(Bucket=s.bucket, Key=key, Body=bytes(data))
    return key


def replace_archived_seal(s: Scene) -> str:
    """tests/tamper's seal edit, as a PUT of the seal's key (a new version)."""
    for key in s.seal_keys():  # the first seal holding an ingest of a log file
        doc = json.loads(s.raw.get_object(Bucket=s.bucket, Key=key)["Body"].read())
        for i, data in enumerate(doc["events"]):
            event = base64.b64decode(data)
            if b'"log-' in event:
                doc["events"][i] = base64.b64encode(event.replace(b'"log-', b'"LOG-')).decode()
                body = json.dumps(doc, sort_keys=True).encode()
                s.raw.put_object(Bucket=s.bucket, Key=key, Body=body)
                return key
    raise AssertionError("no archived event to edit")


def delete_marker_on_artifact(s: Scene) -> str:
    key = s.key(0)
    s.raw.delete_object(Bucket=s.bucket, Key=key)  # no version id: a delete marker
    return key


def delete_marker_on_seal(s: Scene) -> str:
    key = s.seal_keys()[0]
    s.raw.delete_object(Bucket=s.bucket, Key=key)
    return key


S3_TAMPERS: list[tuple[Callable[[Scene], str], str]] = [
    (overwrite_artifact_same_size, "other content written over the original"),
    (flip_artifact_byte_s3, "other content written over the original"),
    (replace_archived_seal, "other content written over the original"),
    (delete_marker_on_artifact, "delete marker hiding it"),
    (delete_marker_on_seal, "delete marker hiding it"),
]


@pytest.mark.parametrize(("tamper", "what"), S3_TAMPERS, ids=[t[0].__name__ for t in S3_TAMPERS])
def test_audit_names_tampering_in_the_bucket(
    scene: Scene, tamper: Callable[[Scene], str], what: str
) -> None:
    key = tamper(scene)
    assert len(versions(scene.raw, scene.bucket, key)) >= 1  # the original is still there
    owner = [a for a, (k, _) in scene.artifacts.items() if k == key]  # for evidence keys
    for report in (fresh_audit(scene.settings), audit(scene.live.vault)):
        assert_named(report, "store versions", StoreTampering, what, *owner)
        failure = report.first_failure
        assert failure is not None and failure.error is not None
        assert failure.error.subject == key
        # Everything read is the original: archive, index and bytes all still check out.
        passed = {c.name for c in report.checks if c.ok}
        assert {"archive", "index events", "artifacts"} <= passed, report.to_json()


@pytest.mark.parametrize(
    "tamper", [flip_artifact_byte_s3, delete_marker_on_artifact], ids=lambda t: t.__name__
)
def test_downloads_serve_the_original_after_tampering(
    scene: Scene, tamper: Callable[[Scene], str]
) -> None:
    """A forged newer version cannot shadow evidence; a delete marker cannot hide it."""
    key = tamper(scene)
    art_id, (_, data) = next((a, v) for a, v in scene.artifacts.items() if v[0] == key)
    with scene.live.client("collector") as c:
        got = c.get(f"/v1/artifacts/{art_id}/content", params={"reason": "after tamper"})
    assert got.status_code == 200 and got.content == data
    with opened(scene.settings) as v:  # and from a cold cache
        assert b"".join(v.store.open_range(key)) == data


def test_rebuild_from_a_tampered_bucket_restores_the_originals(scene: Scene, pg_admin: str) -> None:
    """Overwrites and delete markers in the archive change nothing a rebuild reads."""
    replace_archived_seal(scene)
    delete_marker_on_seal(scene)
    overwrite_artifact_same_size(scene)
    size = scene.live.vault.ledger.size()
    with fresh_pg_database(pg_admin) as empty:
        events, report = rebuild(scene.settings.model_copy(update={"database_url": empty}))
    assert events == size
    assert_named(report, "store versions", StoreTampering, "2 more object(s)")
    passed = {c.name for c in report.checks if c.ok}
    assert {"archive", "index events", "index tree", "artifacts"} <= passed, report.to_json()


# -- tampering below the S3 API ---------------------------------------------------------


def destroy_below_s3(s: Scene, key: str) -> None:
    """Remove every version of `key` through the SeaweedFS filer, which Object Lock does
    not guard: what an administrator of the storage servers could do."""
    filer = f"http://127.0.0.1:{s.seaweed.ports['filer']}"
    r = httpx.delete(f"{filer}/buckets/{s.bucket}/{key}.versions/", params={"recursive": "true"})
    assert r.status_code in (200, 202, 204), r.text
    assert versions(s.raw, s.bucket, key) == []


@pytest.mark.parametrize("cached", [True, False], ids=["read-before", "never-read"])
def test_evidence_destroyed_below_s3_is_a_503_and_named(scene: Scene, cached: bool) -> None:
    art_id = list(scene.artifacts)[-1 if cached else 0]  # the last one was downloaded
    key = scene.artifacts[art_id][0]
    original_version(scene.raw, scene.bucket, key)
    destroy_below_s3(scene, key)
    with scene.live.client("collector") as c:
        got = c.get(f"/v1/artifacts/{art_id}/content", params={"reason": "court"})
    assert got.status_code == 503, got.text
    body = got.json()
    assert body["error"] == "evidence_missing" and key in body["detail"], body
    for report in (audit(scene.live.vault), fresh_audit(scene.settings)):
        assert_named(report, "artifact bytes", ArtifactUnreadable, art_id, key)


def test_bytes_altered_below_s3_are_never_served_whole(scene: Scene) -> None:
    """The filer rewrites a locked version in place (S3 sees the same version id): the
    download is re-hashed and cut short, never delivered complete, and the audit names
    the artifact."""
    art_id = list(scene.artifacts)[-1]  # downloaded already: the server knows its version
    key, data = scene.artifacts[art_id]
    version = original_version(scene.raw, scene.bucket, key)
    flipped = bytearray(data)
    flipped[100] ^= 0x01
    filer = f"http://127.0.0.1:{scene.seaweed.ports['filer']}"
    r = httpx.put(
        f"{filer}/buckets/{scene.bucket}/{key}.versions/v_{version}", content=bytes(flipped)
    )
    assert r.status_code == 201, r.text
    got = scene.raw.get_object(Bucket=scene.bucket, Key=key, VersionId=version)
    assert got["Body"].read() == bytes(flipped)  # Object Lock did not stop it

    with scene.live.client("collector") as c:
        with pytest.raises(httpx.RemoteProtocolError):  # incomplete body: the stream was cut
            c.get(f"/v1/artifacts/{art_id}/content", params={"reason": "court"})
        part = c.get(
            f"/v1/artifacts/{art_id}/content",
            params={"reason": "header"},
            headers={"Range": "bytes=0-15"},
        )
        assert part.status_code == 206 and part.content == data[:16]  # ranges: not re-hashed
    assert_named(audit(scene.live.vault), "artifact bytes", ArtifactHashMismatch, art_id)
    # Rewritten through the filer, the version lost its S3 metadata: a cold reader finds
    # no version at all, which the audit names too.
    assert_named(fresh_audit(scene.settings), "artifact bytes", VerificationError, art_id)


# -- tampering with the database (tests/tamper's functions) on PostgreSQL ---------------

_LOCAL_STORE_TAMPERS = {flip_artifact_byte, replace_artifact_same_size, edit_archived_seal}
DB_CASES = [c for c in CASES if c[0] not in _LOCAL_STORE_TAMPERS]


@pytest.fixture(scope="module")
def populated_template(
    pg_admin: str, seaweed: SeaweedS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """One populated vault whose database is the template of every database tamper: they
    leave the bucket alone, so they can share it and skip a vault start each."""
    with fresh_pg_database(pg_admin) as url:
        settings = make_settings(tmp_path_factory.mktemp("vault"), url, **s3_overrides(seaweed))
        with live_vault(settings) as live:
            populate(live)
        yield settings


@pytest.fixture
def db_copy(populated_template: Settings, pg_admin: str) -> Iterator[Settings]:
    """The template vault with a copy of its database (CREATE DATABASE ... TEMPLATE)."""
    template = str(populated_template.database_url).rsplit("/", 1)[1]
    name = "locard_c_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        url = f"{pg_admin.rsplit('/', 1)[0]}/{name}"
        yield populated_template.model_copy(update={"database_url": url})
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.mark.parametrize(
    ("tamper", "error", "check"), DB_CASES, ids=[c[0].__name__ for c in DB_CASES]
)
def test_audit_names_database_tampering(
    db_copy: Settings,
    tamper: Callable[[Vault], None],
    error: type[VerificationError],
    check: str,
) -> None:
    with opened(db_copy) as v:
        assert audit(v).ok
        tamper(v)
        assert_named(audit(v), check, error)
