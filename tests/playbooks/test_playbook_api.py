"""Playbooks over real HTTP (SQLite and PostgreSQL): classifying assigns the checklist,
each step is a sealed event with when it happened, wrong roles and bad input write nothing,
and the rows are exactly what the ledger projects."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.audit import audit
from tests.support.live_server import LiveVault


@pytest.fixture(scope="module")
def live(module_live: LiveVault) -> LiveVault:
    if "outsider" not in module_live.tokens:
        module_live.add_user("outsider", "collector")
    return module_live


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def _case(live: LiveVault, title: str = "Ransomware on FS01") -> str:
    with live.client("collector") as c:
        return str(
            _ok(c.post("/v1/cases", json={"title": title, "severity": "P1"}), 201)["case"]["id"]
        )


def _classify(live: LiveVault, case: str, scenario: str, role: str = "collector") -> httpx.Response:
    with live.client(role) as c:
        return c.post(f"/v1/cases/{case}/classification", json={"scenario": scenario})


def _step(
    live: LiveVault, case: str, step: str, role: str = "collector", **body: Any
) -> httpx.Response:
    with live.client(role) as c:
        return c.post(f"/v1/cases/{case}/playbook/steps/{step}", json=body)


def _size(live: LiveVault) -> int:
    return live.vault.ledger.size()


def test_playbooks_are_listed_for_every_role(live: LiveVault) -> None:
    for role in ("collector", "legal", "auditor", "admin"):
        with live.client(role) as c:
            books = _ok(c.get("/v1/playbooks"))
            assert {b["scenario"] for b in books} == {"ransomware", "bec", "data-loss"}
            assert _ok(c.get("/v1/playbooks/bec"))["title"] == "Business email compromise"
    with live.client() as anonymous:
        assert anonymous.get("/v1/playbooks").status_code == 401


def test_ransomware_playbook_run_is_sealed_step_by_step(live: LiveVault) -> None:
    case = _case(live)
    with live.client("collector") as c:
        assert _ok(c.get(f"/v1/cases/{case}/playbook"))["scenario"] is None
    out = _ok(_classify(live, case, "ransomware"))
    assert out["receipt"] is not None
    steps = {s["id"]: s for s in out["checklist"]["steps"]}
    assert out["checklist"]["scenario"] == "ransomware"
    assert (
        steps["isolate-hosts"]["preauthorised"]
        and steps["isolate-hosts"]["action"] == "isolate_host"
    )
    assert {s["state"] for s in steps.values()} == {"pending"}

    told = (datetime.now(UTC) - timedelta(minutes=40)).replace(microsecond=0)
    done = _ok(
        _step(
            live, case, "isolate-hosts", outcome="done", occurred_at=told.isoformat(), reason="EDR"
        ),
        201,
    )
    row = next(s for s in done["checklist"]["steps"] if s["id"] == "isolate-hosts")
    assert row["state"] == "done" and row["recorded_by"] == "collector"
    assert datetime.fromisoformat(row["occurred_at"]) == told
    assert row["recorded_index"] == done["receipt"]["leaf_index"]
    assert done["webhook"] is None  # no automation system configured
    _ok(
        _step(live, case, "collect-memory", outcome="skipped", reason="hosts already rebooted"), 201
    )
    _ok(
        _step(
            live, case, "block-iocs", outcome="deviated", reason="blocked at proxy, not firewall"
        ),
        201,
    )
    # Legal records the communication steps, not the technical ones.
    _ok(_step(live, case, "notify", role="legal", outcome="done", reason="DPA notified"), 201)

    with live.client("auditor") as c:
        checklist = _ok(c.get(f"/v1/cases/{case}/playbook"))
        states = {s["id"]: s["state"] for s in checklist["steps"]}
        assert states["collect-memory"] == "skipped" and states["block-iocs"] == "deviated"
        assert checklist["open"] == len(states) - 4
        timeline = _ok(c.get(f"/v1/cases/{case}/timeline", params={"category": "playbook"}))
    # ordered by when things happened: the isolation was done before it was recorded
    entries = timeline["entries"]
    assert [e["type"] for e in entries] == ["playbook.step", "case.classified"] + [
        "playbook.step"
    ] * 3
    assert entries[1]["summary"].startswith("Classified as Ransomware: playbook version 1")
    assert entries[0]["summary"] == (
        "Playbook step “Isolate affected hosts from the network (do not power off)” done "
        "by collector: EDR"
    )
    assert datetime.fromisoformat(entries[0]["occurred_at"]) == told
    assert entries[0]["at"] > entries[0]["occurred_at"]
    assert entries[2]["body"]["reason"] == "hosts already rebooted"
    # The rows are the projection of the archived events, field by field.
    assert audit(live.vault, content=False).ok


def test_reclassifying_replaces_the_checklist_and_the_same_scenario_is_a_no_op(
    live: LiveVault,
) -> None:
    case = _case(live, "Invoice fraud")
    _ok(_classify(live, case, "ransomware"))
    _ok(_step(live, case, "scope", outcome="done"), 201)
    size = _size(live)
    assert _ok(_classify(live, case, "ransomware"))["receipt"] is None
    assert _size(live) == size
    out = _ok(_classify(live, case, "bec"))
    assert out["checklist"]["scenario"] == "bec"
    assert out["checklist"]["steps"][0]["id"] == "preserve-mail"
    assert {s["state"] for s in out["checklist"]["steps"]} == {"pending"}
    with live.client("collector") as c:
        tl = _ok(c.get(f"/v1/cases/{case}/timeline", params={"category": "playbook"}))
    assert tl["entries"][-1]["summary"].startswith(
        "Classified as Business email compromise (was ransomware)"
    )
    assert audit(live.vault, content=False).ok


@pytest.fixture(scope="module")
def untouched_case(live: LiveVault) -> str:
    """One classified case for the refusals: none of them may change it."""
    case = _case(live, "Bad input")
    _ok(_classify(live, case, "ransomware"))
    return case


@pytest.mark.parametrize(
    ("role", "status"),
    [("auditor", 403), ("legal", 403), ("outsider", 404)],
)
def test_wrong_roles_write_nothing(
    live: LiveVault, untouched_case: str, role: str, status: int
) -> None:
    case = untouched_case
    size = _size(live)
    assert _classify(live, case, "bec", role=role).status_code == status
    assert _step(live, case, "isolate-hosts", role=role, outcome="done").status_code == status
    with live.client() as anonymous:
        r = anonymous.post(f"/v1/cases/{case}/playbook/steps/scope", json={"outcome": "done"})
        assert r.status_code == 401
    assert _size(live) == size


@pytest.mark.parametrize(
    ("path_step", "body", "status"),
    [
        ("scope", {"outcome": "skipped"}, 422),  # a skip needs its reason
        ("scope", {"outcome": "deviated", "reason": "   "}, 422),
        ("scope", {"outcome": "finished"}, 422),
        ("scope", {"outcome": "done", "occurred_at": "2026-01-01T10:00:00"}, 422),  # no zone
        ("scope", {"outcome": "done", "occurred_at": "yesterday"}, 422),
        ("scope", {"outcome": "done", "extra": 1}, 422),
        ("scope", {"outcome": "done", "reason": "a\u202eb"}, 422),
        ("scope", {"outcome": "done", "occurred_at": "2999-01-01T00:00:00Z"}, 409),  # future
        ("no-such-step", {"outcome": "done"}, 404),
        ("x" * 65, {"outcome": "done"}, 422),
    ],
)
def test_bad_input_is_refused_without_a_write(
    live: LiveVault, untouched_case: str, path_step: str, body: dict[str, Any], status: int
) -> None:
    case = untouched_case
    size = _size(live)
    assert _step(live, case, path_step, **body).status_code == status
    assert _size(live) == size
    with live.client("collector") as c:
        checklist = _ok(c.get(f"/v1/cases/{case}/playbook"))
    assert {s["state"] for s in checklist["steps"]} == {"pending"}


def test_bad_classification_and_unclassified_steps_are_refused(live: LiveVault) -> None:
    case = _case(live, "Unclassified")
    size = _size(live)
    assert _classify(live, case, "alien-invasion").status_code == 400
    with live.client("collector") as c:
        assert c.post(f"/v1/cases/{case}/classification", json={}).status_code == 422
        r = c.post(f"/v1/cases/{case}/classification", json={"scenario": "bec", "x": 1})
        assert r.status_code == 422
        assert (
            c.post("/v1/cases/IR-1999-0001/classification", json={"scenario": "bec"}).status_code
            == 404
        )
    assert _step(live, case, "scope", outcome="done").status_code == 409
    assert _size(live) == size


def test_a_step_is_recorded_once_even_when_two_responders_race(live: LiveVault) -> None:
    case = _case(live, "Race")
    _ok(_classify(live, case, "data-loss"))
    with ThreadPoolExecutor(4) as pool:
        codes = list(
            pool.map(
                lambda role: (
                    _step(live, case, "stop-exposure", role=role, outcome="done").status_code
                ),
                ["collector", "admin", "collector", "admin"],
            )
        )
    assert sorted(codes) == [201, 409, 409, 409]
    r = _step(live, case, "stop-exposure", outcome="skipped", reason="changed my mind")
    assert r.status_code == 409 and r.json()["current"]["state"] == "done"
