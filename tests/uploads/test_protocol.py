"""The resumable upload protocol over real HTTP, on SQLite and PostgreSQL.

Every refusal is a 4xx with a reason and leaves the vault as it was: no object in the
store, nothing in staging, no ledger entry.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from app.uploads import service, views
from app.uploads.models import UploadSession
from app.uploads.settings import UploadSettings
from tests.support.live_server import LiveVault
from tests.uploads.conftest import new_case
from tests.uploads.helpers import create, patch, payload, row, snapshot, spool, verifier

MiB = 1 << 20


def test_happy_path_chunks_complete_receipt(live: LiveVault, case_id: str, tmp_path: Path) -> None:
    data = payload(3 * MiB + 12345)
    digest = hashlib.sha256(data).hexdigest()
    with live.client("collector") as c:
        r = create(
            c,
            case_id,
            data,
            source_host="fs01",
            collection_tool="dd 9.1",
            # the item's description (ingest v3), a list of seals in JSON
            device_serial="WD-WX12A3456",
            seals=["EVB-2026-0031"],
        )
        assert r.status_code == 201, r.text
        up = r.json()
        uid = up["upload_id"]
        assert up["offset"] == 0 and up["size"] == len(data) and up["state"] == "open"
        assert r.headers["location"] == f"/v1/uploads/{uid}"
        assert spool(live, uid).is_file()

        h = c.head(f"/v1/uploads/{uid}")
        assert h.status_code == 200 and h.headers["upload-offset"] == "0"
        assert h.headers["upload-length"] == str(len(data))

        p = patch(c, uid, 0, data[:MiB])
        assert p.status_code == 200, p.text
        assert p.json()["offset"] == MiB and p.headers["upload-offset"] == str(MiB)

        # Chunked transfer encoding (no Content-Length) is accepted too.
        def gen() -> Iterator[bytes]:
            for i in range(MiB, 3 * MiB, 256 * 1024):
                yield data[i : i + 256 * 1024]

        p = c.patch(f"/v1/uploads/{uid}", content=gen(), headers={"Upload-Offset": str(MiB)})
        assert p.status_code == 200, p.text
        assert p.json()["offset"] == 3 * MiB
        assert c.get(f"/v1/uploads/{uid}").json()["offset"] == 3 * MiB

        p = patch(c, uid, 3 * MiB, data[3 * MiB :])
        assert p.json()["offset"] == len(data)

        done = c.post(f"/v1/uploads/{uid}/complete")
        assert done.status_code == 201, done.text
        art, receipt = done.json()["artifact"], done.json()["receipt"]
        assert art["sha256"] == digest and art["size"] == len(data)
        assert art["sha1"] == hashlib.sha1(data).hexdigest()
        assert art["md5"] == hashlib.md5(data).hexdigest()
        assert art["source_host"] == "fs01" and art["collection_tool"] == "dd 9.1"
        assert receipt["event"]["type"] == "ingest"
        assert receipt["event"]["body"]["artifact"] == art["id"]
        body = receipt["event"]["body"]
        assert body["v"] == 3 and body["device_serial"] == "WD-WX12A3456"
        assert body["seals"] == ["EVB-2026-0031"] and "device_make" not in body

        f = tmp_path / "disk.img"
        f.write_bytes(data)
        report = verifier(live).verify_receipt(receipt, artifact=f)
        assert report.ok, report.to_json()

        assert not spool(live, uid).exists()
        s = c.get(f"/v1/uploads/{uid}").json()
        assert s["state"] == "completed" and s["artifact_id"] == art["id"]

        # A client that lost the answer asks again: same artifact, a fresh valid receipt.
        again = c.post(f"/v1/uploads/{uid}/complete")
        assert again.status_code == 200, again.text
        assert again.json()["artifact"]["id"] == art["id"]
        assert verifier(live).verify_receipt(again.json()["receipt"], artifact=f).ok

        d = c.get(f"/v1/artifacts/{art['id']}/content", params={"reason": "check"})
        assert d.content == data
        # Only one ingest: the replay recorded nothing new.
        chain = c.get(f"/v1/artifacts/{art['id']}/custody").json()
        assert [e["event"]["type"] for e in chain] == ["ingest", "access"]
    stored = row(live, uid)
    assert stored is not None and stored.bytes_received == len(data)


def test_offset_mismatch_answers_the_real_offset(live: LiveVault, case_id: str) -> None:
    data = payload(200_000)
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        assert patch(c, uid, 0, data[:50_000]).status_code == 200
        before = snapshot(live)
        for wrong in (0, 40_000, 60_000, 10**15):
            r = patch(c, uid, wrong, data[wrong : wrong + 1000] or b"x")
            assert r.status_code == 409, r.text
            assert r.json()["error"] == "offset_mismatch"
            assert r.json()["offset"] == 50_000
            assert r.headers["upload-offset"] == "50000"
        for bad in (b"", b"-1", b"abc", b"1e3", "١٢".encode(), b"9" * 30):
            r = c.patch(f"/v1/uploads/{uid}", content=b"x", headers=[(b"Upload-Offset", bad)])
            assert r.status_code == 400, (bad, r.text)
        r = c.patch(f"/v1/uploads/{uid}", content=b"x")
        assert r.status_code == 400 and "Upload-Offset" in r.json()["detail"]
        assert c.get(f"/v1/uploads/{uid}").json()["offset"] == 50_000
        assert spool(live, uid).stat().st_size == 50_000
        assert snapshot(live) == before


def test_chunk_beyond_declared_size_is_refused_whole(live: LiveVault, case_id: str) -> None:
    data = payload(100_000)
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        assert patch(c, uid, 0, data[:60_000]).status_code == 200
        before = snapshot(live)
        # Known up front from Content-Length.
        r = patch(c, uid, 60_000, data[60_000:] + b"extra")
        assert r.status_code == 413, r.text
        # Only found while streaming (chunked): what was written is taken back.
        r = c.patch(
            f"/v1/uploads/{uid}",
            content=iter([data[60_000:90_000], data[90_000:] + b"overflow"]),
            headers={"Upload-Offset": "60000"},
        )
        assert r.status_code == 413, r.text
        assert c.get(f"/v1/uploads/{uid}").json()["offset"] == 60_000
        assert spool(live, uid).stat().st_size == 60_000
        # Then the right bytes still complete it.
        assert patch(c, uid, 60_000, data[60_000:]).json()["offset"] == len(data)
        assert c.post(f"/v1/uploads/{uid}/complete").status_code == 201
    assert snapshot(live).ledger_size == before.ledger_size + 1


def test_unknown_ids_are_404(live: LiveVault) -> None:
    with live.client("collector") as c:
        for uid in ("upl-00000000000000000000000000000000", "nope", "x" * 300, "a%00b"):
            base = f"/v1/uploads/{uid}"
            assert c.head(base).status_code == 404
            assert c.get(base).status_code == 404, c.get(base).text
            assert patch(c, uid, 0, b"abc").status_code == 404
            assert c.post(f"{base}/complete").status_code == 404
            assert c.delete(base).status_code == 404


def test_completing_early_is_409_and_changes_nothing(live: LiveVault, case_id: str) -> None:
    data = payload(300_000)
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        before = snapshot(live)
        r = c.post(f"/v1/uploads/{uid}/complete")
        assert r.status_code == 409 and r.json()["error"] == "upload_incomplete"
        patch(c, uid, 0, data[:299_999])
        r = c.post(f"/v1/uploads/{uid}/complete")
        assert r.status_code == 409 and "299999 of 300000" in r.json()["detail"]
        assert snapshot(live) == before
        assert c.get(f"/v1/uploads/{uid}").json()["state"] == "open"
        assert patch(c, uid, 299_999, data[-1:]).status_code == 200
        assert c.post(f"/v1/uploads/{uid}/complete").status_code == 201


def test_digest_mismatch_at_completion_stores_nothing(live: LiveVault, case_id: str) -> None:
    data = payload(500_000)
    claimed = hashlib.sha256(b"something else").hexdigest()
    with live.client("collector") as c:
        uid = create(c, case_id, data, sha256=claimed).json()["upload_id"]
        assert patch(c, uid, 0, data).status_code == 200
        before = snapshot(live)
        r = c.post(f"/v1/uploads/{uid}/complete")
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "digest_mismatch"
        assert snapshot(live) == before
        # Failed for good: the bytes are gone, the reason stays readable.
        assert not spool(live, uid).exists()
        s = c.get(f"/v1/uploads/{uid}").json()
        assert s["state"] == "failed" and claimed in s["error"]
        assert c.post(f"/v1/uploads/{uid}/complete").status_code == 409
        assert patch(c, uid, len(data), b"x").status_code == 409
        assert c.delete(f"/v1/uploads/{uid}").status_code == 204
        assert c.get(f"/v1/uploads/{uid}").status_code == 404
        assert snapshot(live) == before


def test_only_the_creator_may_touch_a_session(live: LiveVault, case_id: str) -> None:
    data = payload(10_000)
    live.add_user("bob", "collector")
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        assert c.post(f"/v1/cases/{case_id}/members", json={"principal": "bob"}).status_code in (
            200,
            201,
        )
    for who in ("bob", "admin"):
        with live.client(who) as other:
            base = f"/v1/uploads/{uid}"
            assert other.get(base).status_code == 404
            assert other.head(base).status_code == 404
            assert patch(other, uid, 0, data).status_code == 404
            assert other.post(f"{base}/complete").status_code == 404
            assert other.delete(base).status_code == 404
    for role in ("legal", "auditor"):
        with live.client(role) as other:
            assert other.get(f"/v1/uploads/{uid}").status_code == 403
    with live.client("collector") as c:
        assert c.get(f"/v1/uploads/{uid}").json()["offset"] == 0
        assert spool(live, uid).stat().st_size == 0


def test_creation_refuses_up_front(live: LiveVault, case_id: str) -> None:
    data = payload(1000)
    good = hashlib.sha256(data).hexdigest()
    other_case = new_case(live, "admin")  # the collector is no member
    before = snapshot(live)
    with live.client("collector") as c:
        cases = [
            ({"file_name": "a.img", "size": 1000}, 422),  # no sha256
            ({"file_name": "a.img", "size": 1000, "sha256": "zz"}, 400),
            ({"file_name": "a.img", "size": 0, "sha256": good}, 400),
            ({"file_name": "a.img", "size": -5, "sha256": good}, 422),
            ({"file_name": "a.img", "size": 1 << 62, "sha256": good}, 413),
            ({"file_name": "../etc/passwd", "size": 1000, "sha256": good}, 400),
            ({"file_name": "a.img", "size": 1000, "sha256": good, "media_type": "nope"}, 400),
            (
                {"file_name": "a.img", "size": 1000, "sha256": good, "collected_at": "yesterday"},
                400,
            ),
            ({"file_name": "a.img", "size": 1000, "sha256": good, "colour": "red"}, 422),
            ("not an object", 422),
        ]
        for body, status in cases:
            r = c.post(f"/v1/cases/{case_id}/uploads", json=body)
            assert r.status_code == status, (body, r.text)
        r = create(c, other_case, data)
        assert r.status_code == 404, r.text
        r = create(c, "IR-1999-0001", data)
        assert r.status_code == 404
        r = c.post(
            f"/v1/cases/{case_id}/uploads",
            json={"file_name": "a.img", "size": 1000, "sha256": good},
            headers={"X-Locard-Manifest-Signature": "AAAA"},
        )
        assert r.status_code == 400 and "public key" in r.json()["detail"]
    with live.client("legal") as c:
        assert create(c, case_id, data).status_code == 403
    assert snapshot(live) == before
    assert not any((live.settings.data_dir / "uploads").glob("*.part"))


def test_delete_abandons(live: LiveVault, case_id: str) -> None:
    data = payload(50_000)
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        patch(c, uid, 0, data[:20_000])
        before = snapshot(live)
        assert c.delete(f"/v1/uploads/{uid}").status_code == 204
        assert not spool(live, uid).exists() and row(live, uid) is None
        assert c.get(f"/v1/uploads/{uid}").status_code == 404
        assert patch(c, uid, 20_000, data[20_000:]).status_code == 404
        assert c.post(f"/v1/uploads/{uid}/complete").status_code == 404
        assert snapshot(live) == before


def _expire(live: LiveVault, uid: str) -> None:
    with live.vault.engine.begin() as conn:
        conn.execute(
            update(UploadSession)
            .where(UploadSession.id == uid)  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def test_expired_sessions_are_refused_and_swept(
    live: LiveVault, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = payload(40_000)
    with live.client("collector") as c:
        stale = create(c, case_id, data).json()["upload_id"]
        swept = create(c, case_id, data).json()["upload_id"]
        fresh = create(c, case_id, data).json()["upload_id"]
        for uid in (stale, swept, fresh):
            patch(c, uid, 0, data[:10_000])
        _expire(live, stale)
        _expire(live, swept)
        assert c.get(f"/v1/uploads/{stale}").json()["state"] == "expired"
        assert c.head(f"/v1/uploads/{stale}").headers["upload-state"] == "expired"
        r = patch(c, stale, 10_000, data[10_000:])
        assert r.status_code == 410, r.text
        assert c.post(f"/v1/uploads/{stale}/complete").status_code == 410
        assert not spool(live, stale).exists()

        orphan = live.settings.data_dir / "uploads" / "upl-orphan.part"
        orphan.write_bytes(b"left by a crash")
        monkeypatch.setattr(service, "upload_settings", lambda: UploadSettings(orphan_grace_s=0))
        assert service.sweep(live.vault) == 2  # `swept`'s spool and the orphan
        assert not spool(live, swept).exists() and not orphan.exists()
        assert row(live, swept).state == "expired"  # type: ignore[union-attr]
        assert spool(live, fresh).stat().st_size == 10_000
        assert c.get(f"/v1/uploads/{fresh}").json()["state"] == "open"


def test_startup_sweeps_sessions_that_expired_while_down(db_url: str, tmp_path: Path) -> None:
    from tests.support.live_server import live_vault, make_settings

    settings = make_settings(tmp_path / "vault", db_url)
    data = payload(1000)
    with live_vault(settings) as lv:
        case = new_case(lv)
        with lv.client("collector") as c:
            uid = create(c, case, data).json()["upload_id"]
            patch(c, uid, 0, data[:10])
        _expire(lv, uid)
    assert spool(lv, uid).exists()
    with live_vault(settings, users=False) as again:
        assert not spool(again, uid).exists()
        assert row(again, uid).state == "expired"  # type: ignore[union-attr]


def _raw_patch_start(live: LiveVault, uid: str, offset: int, length: int) -> socket.socket:
    """Start a PATCH on a raw socket: headers and no body yet."""
    port = int(live.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        f"PATCH /v1/uploads/{uid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {live.tokens['collector']}\r\n"
        f"Upload-Offset: {offset}\r\nContent-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def _wait_offset(live: LiveVault, uid: str, want: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = row(live, uid)
        if r is not None and r.upload_offset == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"offset never reached {want}: {row(live, uid)}")


def test_disconnect_mid_chunk_keeps_what_arrived(live: LiveVault, case_id: str) -> None:
    data = payload(2 * MiB)
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        sock = _raw_patch_start(live, uid, 0, MiB)
        sock.sendall(data[:300_000])
        time.sleep(0.3)
        # While that PATCH holds the session, others wait their turn.
        busy = patch(c, uid, 0, data[:10])
        assert busy.status_code == 409 and busy.json()["error"] == "upload_busy"
        assert c.post(f"/v1/uploads/{uid}/complete").json()["error"] == "upload_busy"
        assert c.delete(f"/v1/uploads/{uid}").status_code == 409
        sock.close()  # the link drops mid-chunk
        _wait_offset(live, uid, 300_000)
        assert spool(live, uid).read_bytes() == data[:300_000]
        assert patch(c, uid, 300_000, data[300_000:]).status_code == 200
        done = c.post(f"/v1/uploads/{uid}/complete")
        assert done.status_code == 201, done.text
        assert done.json()["artifact"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_stalled_body_is_cut_and_kept(
    live: LiveVault, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "upload_settings", lambda: UploadSettings(idle_timeout_s=0.5))
    data = payload(100_000)
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        sock = _raw_patch_start(live, uid, 0, len(data))
        sock.sendall(data[:40_000])
        try:
            _wait_offset(live, uid, 40_000)  # the half-open link no longer holds the lock
            assert patch(c, uid, 40_000, data[40_000:]).status_code == 200
        finally:
            sock.close()
        assert c.post(f"/v1/uploads/{uid}/complete").status_code == 201


def test_hold_and_retention_come_from_completion_time(live: LiveVault, case_id: str) -> None:
    data = payload(70_000, seed=7)
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        patch(c, uid, 0, data)
    with live.client("legal") as legal:
        r = legal.post(f"/v1/cases/{case_id}/hold", json={"on": True, "reason": "litigation"})
        assert r.status_code in (200, 201), r.text
    with live.client("collector") as c:
        done = c.post(f"/v1/uploads/{uid}/complete")
        assert done.status_code == 201, done.text
    key = f"objects/sha256/{hashlib.sha256(data).hexdigest()}"
    assert live.vault.store.protection(key).legal_hold


def test_signed_manifest_is_checked_at_creation_and_recorded(
    live: LiveVault, tmp_path: Path
) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from verify.manifest import manifest_bytes

    key = Ed25519PrivateKey.generate()
    pub = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    live.add_user("signer", "collector", pub)
    case = new_case(live, "signer")
    data = payload(5000)
    digest = hashlib.sha256(data).hexdigest()
    good = base64.b64encode(key.sign(manifest_bytes(case, "disk.img", digest))).decode()
    bad = base64.b64encode(key.sign(manifest_bytes(case, "other.img", digest))).decode()
    with live.client("signer") as c:
        r = c.post(
            f"/v1/cases/{case}/uploads",
            json={"file_name": "disk.img", "size": len(data), "sha256": digest},
            headers={"X-Locard-Manifest-Signature": bad},
        )
        assert r.status_code == 400 and "signature" in r.json()["detail"]
        r = c.post(
            f"/v1/cases/{case}/uploads",
            json={"file_name": "disk.img", "size": len(data), "sha256": digest},
            headers={"X-Locard-Manifest-Signature": good},
        )
        uid = r.json()["upload_id"]
        patch(c, uid, 0, data)
        done = c.post(f"/v1/uploads/{uid}/complete").json()
    body = done["receipt"]["event"]["body"]
    assert body["collector_signature"] == {"signature": good, "public_key": pub}
    f = tmp_path / "disk.img"
    f.write_bytes(data)
    report = verifier(live).verify_receipt(done["receipt"], artifact=f)
    assert report.ok and any("collector" in ch.name for ch in report.checks), report.to_json()


def test_hold_set_while_completing_still_holds_the_object(
    live: LiveVault, case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.auth.service import get_principal
    from app.cases.service import set_hold

    data = payload(90_000, seed=8)
    real_copy = service._copy_spool

    def copy_then_hold(*args: Any, **kwargs: Any) -> int:
        copied = real_copy(*args, **kwargs)
        # The hold lands after completion planned (case not on hold) and before the
        # artifact is visible to set_hold: the window a long copy leaves open.
        set_hold(live.vault, get_principal(live.vault.engine, "legal"), case_id, True, "now")
        return copied

    monkeypatch.setattr(service, "_copy_spool", copy_then_hold)
    with live.client("collector") as c:
        uid = create(c, case_id, data).json()["upload_id"]
        patch(c, uid, 0, data)
        done = c.post(f"/v1/uploads/{uid}/complete")
        assert done.status_code == 201, done.text
    key = f"objects/sha256/{hashlib.sha256(data).hexdigest()}"
    assert live.vault.store.protection(key).legal_hold
