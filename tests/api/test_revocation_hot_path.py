"""A token that stops being valid is refused at once on the busiest routes.

Annotations and artifact reads answer from a cache of principals (app.auth.cache) that
every principal change empties: a token rotated outside the server's sequencer (as the
CLI's `locard user token` does; tests/api/test_principal_cache.py runs the CLI itself) or
a principal disabled over the API is refused on the very next request, and the refused
annotation writes nothing.
"""

from __future__ import annotations

from app.auth.service import issue_token
from tests.api.helpers import assert_refused, auth
from tests.support.live_server import LiveVault


def test_rotated_and_disabled_tokens_stop_working_at_once(live_sqlite: LiveVault) -> None:
    lv = live_sqlite
    old = lv.add_user("cora", "collector")
    with lv.client("cora") as c:
        case = c.post("/v1/cases", json={"title": "revocation", "severity": "P3"})
        assert case.status_code == 201, case.text
        art = c.post(
            f"/v1/cases/{case.json()['case']['id']}/artifacts",
            params={"file_name": "a.bin"},
            content=b"evidence",
            headers={"Content-Type": "application/octet-stream"},
        )
        assert art.status_code == 201, art.text
        artifact = art.json()["artifact"]["id"]
        note = c.post(f"/v1/artifacts/{artifact}/annotations", json={"text": "seen"})
        assert note.status_code == 201 and "inclusion_proof" in note.json()["receipt"], note.text
        assert c.get(f"/v1/artifacts/{artifact}").status_code == 200

    new = issue_token(lv.vault, "cora")  # sealed outside the server's sequencer
    size = lv.vault.ledger.size()
    with lv.client() as c:
        r = c.post(
            f"/v1/artifacts/{artifact}/annotations", json={"text": "late"}, headers=auth(old)
        )
        assert_refused(r, 401)
        assert_refused(c.get(f"/v1/artifacts/{artifact}", headers=auth(old)), 401)
        assert lv.vault.ledger.size() == size, "a refused annotation was sealed"
        assert c.get(f"/v1/artifacts/{artifact}", headers=auth(new)).status_code == 200

    with lv.client("admin") as a:
        assert a.post("/v1/principals/cora/disable", json={"reason": "left"}).status_code == 200
    with lv.client() as c:
        r = c.post(
            f"/v1/artifacts/{artifact}/annotations", json={"text": "gone"}, headers=auth(new)
        )
        assert_refused(r, 401)
        assert_refused(c.get(f"/v1/artifacts/{artifact}", headers=auth(new)), 401)
