"""A collection is hostile until checked: each bad container is refused with a 4xx that
says why, and leaves no object, no event, no row and no spooled copy behind."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from app.collectors import views as collector_views
from app.collectors.staging import STAGING
from app.uploads.settings import UploadSettings
from tests.api.helpers import assert_refused, untouched
from tests.collectors.builders import Velociraptor
from tests.support.live_server import LiveVault


@contextmanager
def nothing_written(vault: LiveVault) -> Iterator[None]:
    with untouched(vault):
        yield
    spool = vault.settings.data_dir / STAGING
    assert not list(spool.glob("*")), "the spooled container was left behind"


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def _with(extra: dict[str, bytes]) -> bytes:
    return Velociraptor(extra_members=extra).build()


def _duplicate() -> bytes:
    buf = io.BytesIO(Velociraptor().build())
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("log.json", b"{}\n")  # a second member of the same name
    return buf.getvalue()


def _bad_crc() -> bytes:
    """One member's stored bytes altered after the zip was written: its CRC fails."""
    marker = b"evidence-bytes-" * 8
    data = bytearray(_zip({"collection_context.json": b"{}", "uploads/auto/x.bin": marker}, 0))
    at = data.find(marker)
    data[at + 3] ^= 0x01
    return bytes(data)


BAD: dict[str, tuple[Callable[[], bytes], str]] = {
    "not a zip": (lambda: b"just some text, not a container", "unknown_container"),
    "truncated zip": (lambda: Velociraptor().build()[:-200], "corrupt_container"),
    "corrupt member": (_bad_crc, "corrupt_container"),
    "traversal": (lambda: _with({"uploads/../../etc/cron.d/x": b"x"}), "unsafe_container"),
    "absolute name": (lambda: _with({"/etc/passwd": b"root"}), "unsafe_container"),
    "drive letter": (lambda: _with({"C:/Windows/x": b"x"}), "unsafe_container"),
    "backslash name": (lambda: _with({"uploads\\..\\x": b"x"}), "unsafe_container"),
    "duplicate name": (_duplicate, "unsafe_container"),
    # 2 MiB of zeros deflate to ~2 KiB: past the ratio bound (50 here)
    "zip bomb ratio": (lambda: _with({"uploads/auto/z": bytes(2 << 20)}), "unsafe_container"),
    # nine members of 1 MiB each (at the ratio floor) expand past the 8 MiB total bound
    "zip bomb total": (
        lambda: _with({f"uploads/auto/z{i}": bytes(1 << 20) for i in range(9)}),
        "unsafe_container",
    ),
    "too many members": (
        lambda: _with({f"uploads/auto/f{i}": b"x" for i in range(60)}),
        "unsafe_container",
    ),
    "encrypted velociraptor": (
        lambda: _zip({"metadata.json": b'{"Scheme": "X509"}', "data.zip": b"PK\x03\x04enc"}),
        "encrypted_container",
    ),
    "neither collector": (lambda: _zip({"readme.txt": b"hello"}), "unknown_container"),
    "malformed rows": (
        lambda: _zip(
            {"collection_context.json": b"{}", "uploads.json": b"{not json\n", "uploads/a": b"a"}
        ),
        "malformed_collection",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_container_refused_with_nothing_written(vault: LiveVault, case: str, name: str) -> None:
    make, code = BAD[name]
    body = make()
    with nothing_written(vault), vault.client("collector") as c:
        r = c.post(f"/v1/cases/{case}/collections", content=body)
    assert_refused(r, 400)
    assert r.json()["error"] == code, r.text


def test_container_hash_other_than_logged_refused(vault: LiveVault, case: str) -> None:
    body = Velociraptor().build()
    logged = hashlib.sha256(body + b"as the collector wrote it").hexdigest()
    with nothing_written(vault), vault.client("collector") as c:
        r = c.post(
            f"/v1/cases/{case}/collections", params={"container_sha256": logged}, content=body
        )
    assert_refused(r, 422)
    assert r.json()["error"] == "container_hash_mismatch"
    assert hashlib.sha256(body).hexdigest() in r.json()["detail"]


@pytest.mark.parametrize("role", [None, "auditor", "legal"])
def test_only_collectors_of_the_case_may_send_one(
    vault: LiveVault, case: str, role: str | None
) -> None:
    body = Velociraptor().build()
    with nothing_written(vault), vault.client(role) as c:
        r = c.post(f"/v1/cases/{case}/collections", content=body)
    assert_refused(r, 401 if role is None else 403)


def test_a_collector_outside_the_case_gets_404(vault: LiveVault, case: str) -> None:
    vault.add_user("collector-elsewhere", "collector")
    with nothing_written(vault), vault.client("collector-elsewhere") as c:
        r = c.post(f"/v1/cases/{case}/collections", content=Velociraptor().build())
    assert_refused(r, 404)


def test_a_logged_hash_that_is_not_one_refused(vault: LiveVault, case: str) -> None:
    with nothing_written(vault):
        r = httpx.post(
            f"{vault.url}/v1/cases/{case}/collections",
            headers={"Authorization": f"Bearer {vault.tokens['collector']}"},
            params={"container_sha256": "zz"},
            content=b"x",
        )
    assert_refused(r, 400)


def test_staging_quota_of_uploads_holds_for_containers(
    vault: LiveVault, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = Velociraptor().build()
    small = UploadSettings(quota_bytes=len(body) - 1)
    monkeypatch.setattr(collector_views, "upload_settings", lambda: small)
    with nothing_written(vault), vault.client("collector") as c:
        r = c.post(f"/v1/cases/{case}/collections", content=body)
    assert r.status_code == 507, r.text  # as for resumable uploads: storage, not input
    assert r.json()["error"] == "upload_quota_exceeded"
