"""Two racing state changes: exactly one is sealed, the other answers 409 with the state
it found, and the database, the ledger, the report and the audit all tell one story."""

from __future__ import annotations

import pytest

from app.audit import audit
from tests.facts.conftest import ok, together
from tests.support.live_server import LiveVault


def _case_with_artifact(lv: LiveVault) -> tuple[str, str]:
    for name in ("alice", "bob"):
        lv.add_user(name, "collector")
    with lv.client("collector") as c:
        case = ok(c.post("/v1/cases", json={"title": "Race", "severity": "P2"}))["case"]["id"]
        for name in ("alice", "bob"):
            ok(c.post(f"/v1/cases/{case}/members", json={"principal": name}))
        art = ok(c.post(f"/v1/cases/{case}/artifacts", params={"file_name": "a"}, content=b"x"))
    return case, art["artifact"]["id"]


def test_two_transfers_at_once_seal_one(slow_seal: LiveVault) -> None:
    lv = slow_seal
    case, art = _case_with_artifact(lv)
    size = lv.vault.ledger.size()
    with lv.client("collector") as c1, lv.client("collector") as c2:
        got = together(
            lambda: c1.post(f"/v1/artifacts/{art}/transfers", json={"to": "alice", "reason": "a"}),
            lambda: c2.post(f"/v1/artifacts/{art}/transfers", json={"to": "bob", "reason": "b"}),
        )
    codes = sorted(r.status_code for r in got)
    assert codes == [201, 409], [r.text for r in got]
    won = next(r for r in got if r.status_code == 201).json()
    lost = next(r for r in got if r.status_code == 409).json()
    receiver = won["receipt"]["event"]["body"]["to"]["id"]
    # the refusal says who holds custody now: the winner's receiver
    assert lost["current"] == {"custodian": receiver}
    assert lv.vault.ledger.size() == size + 1
    with lv.client("auditor") as a:
        chain = ok(a.get(f"/v1/artifacts/{art}/custody"))
        transfers = [e["event"] for e in chain if e["event"]["type"] == "transfer"]
        assert [t["body"]["to"]["id"] for t in transfers] == [receiver]
        assert ok(a.get(f"/v1/artifacts/{art}"))["custodian"] == receiver
        report = ok(a.get(f"/v1/cases/{case}/report.json"))
    periods = report["artifacts"][0]["custody"]
    assert [p["holder"] for p in periods] == ["collector", receiver]
    assert audit(lv.vault, content=False).ok


def test_transfer_only_to_a_member(live: LiveVault, case_id: str) -> None:
    live.add_user("outsider", "collector")
    with live.client("collector") as c:
        art = ok(c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "a"}, content=b"y"))
        size = live.vault.ledger.size()
        r = c.post(
            f"/v1/artifacts/{art['artifact']['id']}/transfers",
            json={"to": "outsider", "reason": "r"},
        )
        assert r.status_code == 400 and "not a member" in r.text
        assert live.vault.ledger.size() == size


def test_two_holds_at_once_seal_one(slow_seal: LiveVault) -> None:
    lv = slow_seal
    case, _ = _case_with_artifact(lv)
    size = lv.vault.ledger.size()
    with lv.client("legal") as l1, lv.client("legal") as l2:
        got = together(
            lambda: l1.post(f"/v1/cases/{case}/hold", json={"on": True, "reason": "one"}),
            lambda: l2.post(f"/v1/cases/{case}/hold", json={"on": True, "reason": "two"}),
        )
    assert sorted(r.status_code for r in got) == [200, 409], [r.text for r in got]
    assert lv.vault.ledger.size() == size + 1
    assert audit(lv.vault, content=False).ok


@pytest.mark.parametrize("field", ["status", "privacy"])
def test_two_changes_of_one_field_seal_one(slow_seal: LiveVault, field: str) -> None:
    lv = slow_seal
    case, _ = _case_with_artifact(lv)
    size = lv.vault.ledger.size()
    with lv.client("collector") as c1, lv.client("collector") as c2:
        if field == "status":
            got = together(
                lambda: c1.patch(f"/v1/cases/{case}", json={"status": "triaged"}),
                lambda: c2.patch(f"/v1/cases/{case}", json={"status": "contained"}),
            )
        else:
            got = together(
                lambda: c1.patch(f"/v1/cases/{case}/privacy", json={"personal_data": True}),
                lambda: c2.patch(
                    f"/v1/cases/{case}/privacy",
                    json={"personal_data": True, "notification_required": True},
                ),
            )
    codes = sorted(r.status_code for r in got)
    assert codes == [200, 409], [r.text for r in got]
    assert lv.vault.ledger.size() == size + 1
    assert audit(lv.vault, content=False).ok
