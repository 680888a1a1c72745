"""Issue 12, "one collector can take the vault down", on a real 64 MiB tmpfs.

Uploads reserve their space before a byte is accepted; below the reserve the vault is
read-only (reads and legal holds still served); a disk that is full anyway answers 507,
never 500; and `locard audit` passes after each.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from app.audit import audit
from app.db import session
from app.uploads import service
from app.uploads.models import UploadSession
from app.uploads.settings import UploadSettings
from tests.disk.conftest import RESERVE, MiB, new_case
from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.support.tmpfs import fill, free_bytes
from tests.uploads.helpers import create, patch, payload, row, snapshot, spool

CHUNK = 4 * MiB


def _sessions(live: LiveVault) -> int:
    with session(live.vault.engine) as s:
        return int(s.exec(select(func.count()).select_from(UploadSession)).one()[0])  # type: ignore[call-overload]


def _spools(live: LiveVault) -> set[str]:
    d = live.settings.data_dir / "uploads"
    return set(os.listdir(d)) if d.is_dir() else set()


def _send(c: httpx.Client, upload_id: str, data: bytes) -> None:
    for offset in range(0, len(data), CHUNK):
        r = patch(c, upload_id, offset, data[offset : offset + CHUNK])
        assert r.status_code == 200, r.text


def _expire(live: LiveVault, upload_id: str) -> None:
    with live.vault.engine.begin() as conn:
        conn.execute(
            update(UploadSession)
            .where(UploadSession.id == upload_id)  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def _health(live: LiveVault, want: str) -> dict[str, Any]:
    """/healthz once it says `want` (its disk probe is cached for a second)."""
    deadline = time.monotonic() + 10
    with live.client() as c:
        while True:
            r = c.get("/healthz")
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["status"] == want or time.monotonic() > deadline:
                return body
            time.sleep(0.1)


def _note(c: httpx.Client, case: str, text: str = "host isolated") -> httpx.Response:
    return c.post(f"/v1/cases/{case}/notes", json={"text": text})


def _hold(live: LiveVault, case: str, on: bool = True) -> httpx.Response:
    with live.client("legal") as c:
        return c.post(f"/v1/cases/{case}/hold", json={"on": on, "reason": "litigation"})


def _audit_passes(live: LiveVault) -> None:
    report = audit(live.vault)
    assert report.ok, report.to_json()


def _refused_507(r: httpx.Response, code: str = "insufficient_storage") -> None:
    assert r.status_code == 507, r.text
    assert r.json()["error"] == code, r.text


def test_five_sessions_of_27_mib_cannot_take_the_vault_down(tiny: LiveVault) -> None:
    """The issue's reproduction: each session holds its size twice until it completes
    (spool, then the store's copy), so on 64 MiB one 27 MiB session fits and the other
    four are refused before anything is written."""
    case = new_case(tiny)
    data = payload(27 * MiB)
    with tiny.client("collector") as c:
        answers = [create(c, case, data) for _ in range(5)]
        assert answers[0].status_code == 201, answers[0].text
        for r in answers[1:]:
            _refused_507(r)
            assert "reserved by uploads in progress" in r.json()["detail"]
        uid = answers[0].json()["upload_id"]
        assert _sessions(tiny) == 1 and _spools(tiny) == {f"{uid}.part"}
        _send(c, uid, data)

        # The vault still works: notes, reads, legal hold, health.
        assert _note(c, case).status_code == 201
        assert c.get("/v1/cases").status_code == 200
        assert _hold(tiny, case).status_code == 200
        assert _health(tiny, "ok") == {"status": "ok"}

        # The reservation was real: the session completes.
        r = c.post(f"/v1/uploads/{uid}/complete")
        assert r.status_code == 201, r.text
        assert r.json()["artifact"]["size"] == len(data)
        assert not spool(tiny, uid).exists()
    _audit_passes(tiny)


def test_sessions_reserve_space_until_completed_abandoned_or_expired(tiny: LiveVault) -> None:
    case = new_case(tiny)
    room = free_bytes(tiny.settings.data_dir) - RESERVE
    data = payload(int(room * 0.18))  # each session reserves 0.36 of the room
    with tiny.client("collector") as c:
        a = create(c, case, data).json()["upload_id"]
        b = create(c, case, data).json()["upload_id"]
        before = snapshot(tiny)
        _refused_507(create(c, case, data))
        assert _sessions(tiny) == 2 and _spools(tiny) == {f"{a}.part", f"{b}.part"}

        # A one-shot upload with a Content-Length is held to the same account, before
        # its body is read.
        big = payload(int(room * 0.3), seed=1)
        r = c.post(f"/v1/cases/{case}/artifacts", content=big, params={"file_name": "big.img"})
        _refused_507(r)
        assert snapshot(tiny) == before  # nothing stored, staged or sealed

        assert c.delete(f"/v1/uploads/{a}").status_code == 204  # abandon releases
        r = create(c, case, data)
        assert r.status_code == 201, r.text
        cid = r.json()["upload_id"]
        _refused_507(create(c, case, data))

        _expire(tiny, b)  # expiry releases
        r = create(c, case, data)
        assert r.status_code == 201, r.text

        _send(c, cid, data)  # completion releases
        assert c.post(f"/v1/uploads/{cid}/complete").status_code == 201
        r = create(c, case, data)
        assert r.status_code == 201, r.text
    _audit_passes(tiny)


def test_racing_sessions_never_reserve_more_than_is_free(tiny: LiveVault) -> None:
    case = new_case(tiny)
    room = free_bytes(tiny.settings.data_dir) - RESERVE
    data = payload(int(room * 0.15))  # 0.3 of the room each: three fit, not four

    def one(_: int) -> int:
        with tiny.client("collector") as c:
            return create(c, case, data).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(one, range(8)))
    assert statuses == [201] * 3 + [507] * 5
    assert _sessions(tiny) == 3


def test_below_the_reserve_reads_and_holds_work_other_writes_answer_507(
    tiny: LiveVault, disk: Path
) -> None:
    case = new_case(tiny)
    evidence = payload(256 * 1024, seed=2)
    partial = payload(MiB, seed=3)
    with tiny.client("collector") as c:
        r = c.post(f"/v1/cases/{case}/artifacts", content=evidence, params={"file_name": "m.lime"})
        assert r.status_code == 201, r.text
        artifact = r.json()["artifact"]["id"]
        uid = create(c, case, partial).json()["upload_id"]
        assert patch(c, uid, 0, partial[: MiB // 2]).status_code == 200

    filler = fill(disk, leave=RESERVE // 2)  # another tenant of the disk took the rest
    health = _health(tiny, "degraded")
    assert health["status"] == "degraded" and "reserve" in health["reason"], health

    with tiny.client("collector") as c:
        assert c.get("/v1/cases").status_code == 200
        assert c.get(f"/v1/cases/{case}").status_code == 200
        assert c.get(f"/v1/artifacts/{artifact}").status_code == 200
        r = c.get(f"/v1/artifacts/{artifact}/content", params={"reason": "triage"})
        assert r.status_code == 200 and r.content == evidence
        assert c.get(f"/v1/uploads/{uid}").json()["offset"] == MiB // 2

        before = snapshot(tiny)
        _refused_507(_note(c, case), "read_only")
        _refused_507(c.post("/v1/cases", json={"title": "t", "severity": "P2"}), "read_only")
        _refused_507(create(c, case, payload(1000, seed=4)), "read_only")
        _refused_507(patch(c, uid, MiB // 2, partial[MiB // 2 :]), "read_only")
        _refused_507(c.post(f"/v1/uploads/{uid}/complete"), "read_only")
        r = c.post(f"/v1/cases/{case}/artifacts", content=b"x" * 1000, params={"file_name": "x"})
        _refused_507(r, "read_only")
        assert snapshot(tiny) == before
        assert spool(tiny, uid).stat().st_size == MiB // 2

    r = _hold(tiny, case)  # what the reserve is kept for
    assert r.status_code == 200, r.text
    assert tiny.vault.ledger.size() == before.ledger_size + 1
    with tiny.client("collector") as c:
        assert c.delete(f"/v1/uploads/{uid}").status_code == 204  # frees space: allowed
        assert row(tiny, uid) is None and not spool(tiny, uid).exists()

    filler.unlink()
    assert _health(tiny, "ok") == {"status": "ok"}
    with tiny.client("collector") as c:
        assert _note(c, case).status_code == 201
    _audit_passes(tiny)


def test_a_disk_full_to_the_last_byte_answers_507_never_500(disk: Path) -> None:
    """No reserve configured (LOCARD_RESERVE_FREE_BYTES=0), so nothing refuses ahead:
    the database and the store meet ENOSPC themselves. Every write answers 507, reads
    keep working, and abandoning an upload frees its space even then."""
    settings = make_settings(
        disk / "vault", f"sqlite:///{disk / 'vault' / 'locard.db'}", reserve_free_bytes=0
    )
    with live_vault(settings) as live:
        case = new_case(live)
        partial = payload(2 * MiB, seed=5)
        with live.client("collector") as c:
            uid = create(c, case, partial).json()["upload_id"]
            assert patch(c, uid, 0, partial[:MiB]).status_code == 200

        filler = fill(disk, leave=0)
        with live.client("collector") as c:
            statuses = []
            for i in range(100):
                r = _note(c, case, f"{i:04d} " + "x" * 19_000)
                statuses.append(r.status_code)
                if r.status_code != 201:
                    _refused_507(r)
                    break
            assert statuses[-1] == 507, statuses
            _refused_507(patch(c, uid, MiB, partial[MiB:]))
            r = c.get("/v1/cases")
            assert r.status_code == 200, r.text
            assert c.get(f"/v1/cases/{case}").status_code == 200
            assert c.get(f"/v1/uploads/{uid}").json()["offset"] == MiB
            assert c.delete(f"/v1/uploads/{uid}").status_code == 204
            assert row(live, uid) is None and not spool(live, uid).exists()
        filler = fill(disk, leave=0)  # what the abandoned spool gave back, taken again
        with live.client("legal") as c:
            # The first signed report creates the report-signing key: a file write.
            _refused_507(c.get(f"/v1/cases/{case}/report.pdf"))

        filler.unlink()
        with live.client("collector") as c:
            assert _note(c, case).status_code == 201
        with live.client("legal") as c:
            assert c.get(f"/v1/cases/{case}/report.pdf").status_code == 200
        _audit_passes(live)


def test_a_session_whose_spool_a_crash_never_created_releases_its_space(
    tiny: LiveVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is written, then the spool file: a crash in between leaves a session with
    no bytes that would hold its reservation for a week. The sweep fails it."""
    case = new_case(tiny)
    room = free_bytes(tiny.settings.data_dir) - RESERVE
    data = payload(int(room * 0.3))  # reserves 0.6 of the room: two do not fit
    with tiny.client("collector") as c:
        lost = create(c, case, data).json()["upload_id"]
        spool(tiny, lost).unlink()  # as if the process died before creating it
        _refused_507(create(c, case, data))

        monkeypatch.setattr(service, "upload_settings", lambda: UploadSettings(orphan_grace_s=0))
        service.sweep(tiny.vault)
        assert c.get(f"/v1/uploads/{lost}").json()["state"] == "failed"
        r = create(c, case, data)
        assert r.status_code == 201, r.text
