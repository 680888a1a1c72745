"""Annotations skip the artifact lookup once an artifact is known readable, and the
shortcut never widens who may write: the facts it keeps are only ever added."""

from __future__ import annotations

import os
from typing import Any

import pytest

from app.artifacts import service
from app.artifacts.lookup import SealedAccess
from app.artifacts.models import Artifact
from app.auth.models import Principal, Role
from tests.api.helpers import assert_refused, untouched
from tests.support.live_server import LiveVault


def _principal(name: str, role: Role) -> Principal:
    return Principal(id=name, name=name, role=role)


def _artifact(art_id: str, case_id: str) -> Artifact:
    return Artifact(id=art_id, case_id=case_id)


def test_a_collector_needs_its_own_membership_other_roles_only_the_case() -> None:
    access = SealedAccess()
    a, b = _principal("a", Role.collector), _principal("b", Role.collector)
    legal = _principal("lg", Role.legal)
    assert access.case_of("art-1", a) is None
    access.remember(_artifact("art-1", "IR-1"), a)
    assert access.case_of("art-1", a) == "IR-1"
    assert access.case_of("art-1", b) is None  # a's membership says nothing of b's
    assert access.case_of("art-1", legal) == "IR-1"
    assert access.case_of("art-2", legal) is None


def test_a_full_table_is_cleared_not_grown() -> None:
    access = SealedAccess()
    access.MAX_ENTRIES = 3
    who = _principal("lg", Role.legal)
    for n in range(4):
        access.remember(_artifact(f"art-{n}", "IR-1"), who)
    assert access.case_of("art-0", who) is None and access.case_of("art-3", who) == "IR-1"


def _upload(live: LiveVault) -> tuple[str, str]:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Shortcut", "severity": "P2"})
        assert r.status_code == 201, r.text
        case = r.json()["case"]["id"]
        # legal joins, so that custody can be handed to it (transfers go to members only)
        assert c.post(f"/v1/cases/{case}/members", json={"principal": "legal"}).status_code == 201
        r = c.post(
            f"/v1/cases/{case}/artifacts", params={"file_name": "a.log"}, content=os.urandom(99)
        )
        assert r.status_code == 201, r.text
        return case, r.json()["artifact"]["id"]


def test_annotating_what_one_uploaded_needs_no_lookup(
    module_live: LiveVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, art = _upload(module_live)
    lookups: list[str] = []
    real = service.artifact_case

    def counted(*args: Any) -> str:
        lookups.append(args[2])
        return real(*args)

    monkeypatch.setattr(service, "artifact_case", counted)

    def annotate(times: int) -> None:
        with module_live.client("collector") as c:
            for n in range(times):
                r = c.post(f"/v1/artifacts/{art}/annotations", json={"text": f"note {n}"})
                assert r.status_code == 201, r.text
                assert r.json()["receipt"]["event"]["case"] == case

    annotate(2)
    assert lookups == []  # the upload taught it already
    module_live.vault.access.forget()  # as after a restart
    annotate(3)
    assert lookups == [art]


def test_what_one_reader_taught_lets_no_one_else_in(module_live: LiveVault) -> None:
    """Collector A's annotation teaches the vault A's access; collector B, no member,
    still gets A's artifact refused as unknown, and an auditor still may not annotate."""
    _, art = _upload(module_live)
    module_live.add_user("collector-b", "collector")
    with module_live.client("collector") as c:
        r = c.post(f"/v1/artifacts/{art}/annotations", json={"text": "mine"})
        assert r.status_code == 201, r.text
    assert module_live.vault.access.case_of(art, _principal("auditor", Role.auditor))
    with untouched(module_live):
        with module_live.client("collector-b") as b:
            assert_refused(b.post(f"/v1/artifacts/{art}/annotations", json={"text": "x"}), 404)
        with module_live.client("auditor") as au:
            assert_refused(au.post(f"/v1/artifacts/{art}/annotations", json={"text": "x"}), 403)


def test_a_read_after_a_transfer_shows_the_new_custodian(module_live: LiveVault) -> None:
    """Artifact rows are kept in memory; the custody transfer, their one change, empties
    them before its answer is sent."""
    _, art = _upload(module_live)
    with module_live.client("collector") as c:
        for _ in range(2):  # the second read is answered from memory
            assert c.get(f"/v1/artifacts/{art}").json()["custodian"] == "collector"
        assert module_live.vault.artifacts.get(art) is not None
        r = c.post(f"/v1/artifacts/{art}/transfers", json={"to": "legal", "reason": "review"})
        assert r.status_code == 201, r.text
        assert c.get(f"/v1/artifacts/{art}").json()["custodian"] == "legal"
