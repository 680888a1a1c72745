"""Ledger-bound free text refuses control and bidi-override characters; a 416 states the size."""

from __future__ import annotations

import pytest

from tests.support.live_server import LiveVault

BAD = ["a\x00b", "line\x1bescape", "pay\u202etxt.exe", "x\u2066y", "\x7f", "next\x85line"]


@pytest.fixture
def artifact(live: LiveVault, case_id: str) -> str:
    with live.client("collector") as c:
        r = c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "a.bin"}, content=b"abc")
        assert r.status_code == 201
        return str(r.json()["artifact"]["id"])


@pytest.mark.parametrize("text", BAD)
def test_ledger_text_refuses_hidden_characters(
    live: LiveVault, case_id: str, artifact: str, text: str
) -> None:
    size = live.vault.ledger.size()
    with live.client("collector") as c:
        calls = [
            c.post(f"/v1/artifacts/{artifact}/annotations", json={"text": text}),
            c.post(f"/v1/artifacts/{artifact}/transfers", json={"to": "legal", "reason": text}),
            c.get(f"/v1/artifacts/{artifact}/content", params={"reason": text}),
            c.post(
                f"/v1/cases/{case_id}/actions",
                json={"action": "other", "target": text, "outcome": "pending"},
            ),
        ]
    with live.client("legal") as lg:
        calls.append(lg.post(f"/v1/cases/{case_id}/hold", json={"on": True, "reason": text}))
    for r in calls:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
    assert live.vault.ledger.size() == size


def test_every_ledger_bound_text_field_uses_the_one_rule(live: LiveVault, case_id: str) -> None:
    """Notes, decisions, reviews, action items, cases and principals: the same refusals."""
    with live.client("collector") as c:
        review = {
            "summary": "ok",
            "action_items": [{"title": "patch", "owner": "collector", "due": "2030-01-01"}],
        }
        r = c.post(f"/v1/cases/{case_id}/reviews", json=review)
        assert r.status_code == 201, r.text
        rid = r.json()["artifact"]["id"]
    size = live.vault.ledger.size()
    for text in BAD:
        with live.client("collector") as c:
            calls = [
                c.post(f"/v1/cases/{case_id}/notes", json={"text": text}),
                c.post(f"/v1/cases/{case_id}/notes", json={"kind": "decision", "text": text}),
                c.post(f"/v1/cases/{case_id}/reviews", json={**review, "summary": text}),
                c.post(f"/v1/cases/{case_id}/reviews", json={**review, "root_cause": text}),
                c.post(f"/v1/cases/{case_id}/reviews", json={**review, "lessons": [text]}),
                c.post(
                    f"/v1/cases/{case_id}/reviews",
                    json={**review, "action_items": [{**review["action_items"][0], "title": text}]},
                ),
                c.patch(
                    f"/v1/cases/{case_id}/reviews/{rid}/items/A1",
                    json={"state": "done", "note": text},
                ),
                c.post("/v1/cases", json={"title": text, "severity": "P2"}),
                c.post("/v1/cases", json={"title": "t", "description": text, "severity": "P2"}),
                c.patch(f"/v1/cases/{case_id}", json={"title": text}),
            ]
        with live.client("admin") as a:
            calls.append(a.post("/v1/principals", json={"name": text, "role": "auditor"}))
        for r in calls:
            assert 400 <= r.status_code < 500, (text, r.request.url, r.status_code, r.text)
    assert live.vault.ledger.size() == size


def test_newlines_and_tabs_are_kept_in_multiline_text(live: LiveVault, artifact: str) -> None:
    with live.client("collector") as c:
        r = c.post(f"/v1/artifacts/{artifact}/annotations", json={"text": "a\n\tb\r\n"})
        assert r.status_code == 201
        assert r.json()["receipt"]["event"]["body"]["text"] == "a\n\tb\r\n"


def test_unsatisfiable_range_states_the_size(live: LiveVault, artifact: str) -> None:
    with live.client("legal") as c:
        r = c.get(
            f"/v1/artifacts/{artifact}/content",
            params={"reason": "check"},
            headers={"Range": "bytes=10-20"},
        )
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */3"
