"""Per-principal staging quota (LOCARD_UPLOAD_QUOTA_BYTES): one collector's open uploads
cannot declare more than it; others are not affected; completion and abandon release."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from app.db import session
from app.uploads import service
from app.uploads.models import UploadSession
from app.uploads.settings import UploadSettings
from tests.support.live_server import LiveVault
from tests.uploads.helpers import create, patch, payload, snapshot

QUOTA = 100_000


@pytest.fixture(autouse=True)
def _quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "upload_settings", lambda: UploadSettings(quota_bytes=QUOTA))


def _sessions_of(live: LiveVault, principal: str) -> int:
    with session(live.vault.engine) as s:
        mine = select(UploadSession).where(col(UploadSession.principal_id) == principal)
        return len(s.exec(mine).all())


def test_a_principal_cannot_declare_more_than_its_quota(live: LiveVault, case_id: str) -> None:
    first = payload(60_000, seed=1)
    second = payload(50_000, seed=2)
    with live.client("collector") as c:
        a = create(c, case_id, first)
        assert a.status_code == 201, a.text
        before = snapshot(live)
        r = create(c, case_id, second)
        assert r.status_code == 507, r.text
        assert r.json()["error"] == "upload_quota_exceeded"
        assert "60000" in r.json()["detail"] and str(QUOTA) in r.json()["detail"]
        r = create(c, case_id, payload(QUOTA + 1, seed=3))  # alone over the quota
        assert r.status_code == 507, r.text
        assert _sessions_of(live, "collector") == 1
        assert snapshot(live) == before

    with live.client("admin") as other:  # another principal has its own quota
        r = create(other, case_id, second)
        assert r.status_code == 201, r.text

    with live.client("collector") as c:
        uid = a.json()["upload_id"]
        assert c.delete(f"/v1/uploads/{uid}").status_code == 204  # abandon releases
        b = create(c, case_id, second)
        assert b.status_code == 201, b.text
        assert create(c, case_id, first).status_code == 507
        uid = b.json()["upload_id"]
        assert patch(c, uid, 0, second).status_code == 200
        assert c.post(f"/v1/uploads/{uid}/complete").status_code == 201  # completion releases
        assert create(c, case_id, first).status_code == 201
