"""Action items with a verification check: closing needs its evidence (a note or an
artifact of the case), and overdue items lead their owner's list."""

from __future__ import annotations

from typing import Any

import httpx

from app.events import EventType
from app.incidents.reviews import fold_reviews
from tests.incidents.events import T0, FixedClock, event
from tests.support.live_server import LiveVault


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def test_closing_needs_evidence_and_overdue_items_lead_the_owners_list(
    live: LiveVault, clock: FixedClock
) -> None:
    c = live.client("collector")
    case = _ok(c.post("/v1/cases", json={"title": "VPN phish", "severity": "P2"}), 201)["case"][
        "id"
    ]
    other = _ok(c.post("/v1/cases", json={"title": "other", "severity": "P4"}), 201)["case"]["id"]
    proof = _ok(
        c.post(f"/v1/cases/{case}/artifacts", params={"file_name": "mfa.png"}, content=b"png"),
        201,
    )["artifact"]
    foreign = _ok(
        c.post(f"/v1/cases/{other}/artifacts", params={"file_name": "x"}, content=b"x"), 201
    )["artifact"]
    review = _ok(
        c.post(
            f"/v1/cases/{case}/reviews",
            json={
                "summary": "VPN lacked MFA",
                "action_items": [
                    {
                        "title": "Enforce MFA on VPN",
                        "owner": "collector",
                        "due": "2026-03-04",
                        "verification": "a VPN sign-in without MFA is refused",
                    },
                    {"title": "Tune alerting", "owner": "legal", "due": "2026-03-20"},
                ],
            },
        ),
        201,
    )
    rid = review["review"]["id"]
    assert review["receipt"]["event"]["body"]["v"] == 2
    assert review["review"]["action_items"][0]["verification"] == (
        "a VPN sign-in without MFA is refused"
    )

    clock.advance(days=3)  # 2026-03-05: A1 is a day late
    mine = _ok(c.get("/v1/action-items"))
    assert [(i["case"], i["id"], i["overdue"]) for i in mine] == [(case, "A1", True)]
    assert _ok(c.get("/v1/action-items", params={"owner": "legal"}))[0]["id"] == "A2"
    with live.client("admin") as a:
        assert len(_ok(a.get("/v1/action-items", params={"everyone": True}))) == 2
        assert _ok(a.get("/v1/action-items", params={"overdue": True})) == []  # admin owns none
        everyone = _ok(a.get("/v1/action-items", params={"everyone": True, "overdue": True}))
        assert [i["id"] for i in everyone] == ["A1"]

    item = f"/v1/cases/{case}/reviews/{rid}/items/A1"
    size = live.vault.ledger.size()
    for body, status in [
        ({"state": "done"}, 400),  # no evidence
        ({"state": "done", "evidence_artifact": foreign["id"]}, 400),  # another case's
        ({"state": "done", "evidence_artifact": "art-nope"}, 400),
        ({"state": "done", "evidence_artifact": ""}, 422),
        ({"state": "cancelled"}, 400),  # cancelling needs a reason
    ]:
        r = c.patch(item, json=body)
        assert r.status_code == status, (body, r.text)
    with live.client("auditor") as au:
        assert au.patch(item, json={"state": "done", "note": "seen"}).status_code == 403
    assert live.vault.ledger.size() == size

    closed = _ok(c.patch(item, json={"state": "done", "evidence_artifact": proof["id"]}))
    assert closed["receipt"]["event"]["body"]["evidence"] == {
        "artifact": proof["id"],
        "sha256": proof["sha256"],
    }
    a1 = closed["review"]["action_items"][0]
    assert a1["state"] == "done" and a1["evidence"]["artifact"] == proof["id"]
    assert a1["evidence"]["by"] == "collector"
    assert _ok(c.get("/v1/action-items", params={"overdue": True})) == []
    with live.client("legal") as lg:
        r = lg.patch(
            f"/v1/cases/{case}/reviews/{rid}/items/A2",
            json={"state": "cancelled", "note": "covered by A1"},
        )
        assert _ok(r)["review"]["action_items"][1]["evidence"]["note"] == "covered by A1"
        timeline = _ok(lg.get(f"/v1/cases/{case}/timeline", params={"category": "review"}))
    summaries = [e["summary"] for e in timeline["entries"]]
    assert f"Action item A1 closed as done, with evidence mfa.png ({proof['id']})" in summaries
    assert "Action item A2 cancelled (covered by A1)" in summaries
    c.close()


def test_v1_review_events_still_fold() -> None:
    """Reviews sealed before verification checks existed read with an empty check."""
    recorded = event(
        EventType.review_recorded.value,
        T0,
        {
            "format": "locard-review/1",
            "artifact": "art-1",
            "sha256": "0" * 64,
            "summary": "s",
            "action_items": [
                {"id": "A1", "title": "t", "owner": "alice", "due": "2026-01-01", "state": "open"}
            ],
        },
        item="art-1",
    )
    done = event(
        EventType.review_item_updated.value,
        T0,
        {"review": "art-1", "item": "A1", "changes": {"state": ["open", "done"]}, "note": "ok"},
        item="art-1",
    )
    (review,) = fold_reviews([(1, recorded), (2, done)])
    a1 = review.items["A1"]
    assert a1.verification == "" and a1.state == "done"
    assert a1.evidence is not None and a1.evidence["note"] == "ok"
