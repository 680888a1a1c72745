"""Random sequences of API operations, then a rebuild from the store: every projected
table must come back equal, field by field, and the audit must find nothing beforehand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app.audit import audit, rebuild
from app.events.audit import PROJECTED, _rows
from tests.recovery.test_rebuild import drop_database
from tests.support.live_server import LiveVault, live_vault, make_settings

PEOPLE = ("collector", "legal", "admin", "alice")
texts = (
    st.text(alphabet="abcdefghij klmnop.,-", min_size=1, max_size=30).map(str.strip).filter(bool)
)


def snapshot(live: LiveVault) -> dict[str, Any]:
    return {t.name: _rows(live.vault.engine, t, skip) for t, skip in PROJECTED}


def _ok(r: httpx.Response) -> httpx.Response:
    # Refusals (409 races, 400 rules) are fine; a server error never is.
    assert r.status_code < 500, r.text
    return r


def make_machine(db_url: str, root: Path) -> type[RuleBasedStateMachine]:
    counter = iter(range(10_000))

    class VaultMachine(RuleBasedStateMachine):
        cases = Bundle("cases")
        artifacts = Bundle("artifacts")

        @initialize()
        def start(self) -> None:
            data = root / f"v{next(counter)}"
            self.db_url = db_url
            if db_url.startswith("sqlite"):
                self.db_url = f"sqlite:///{data / 'locard.db'}"
                data.mkdir(parents=True)
            else:
                drop_database(db_url, data)  # each example starts from an empty database
            self.settings = make_settings(data, self.db_url)
            self.ctx = live_vault(self.settings)
            self.live = self.ctx.__enter__()
            self.live.add_user("alice", "collector")
            self.http = {p: self.live.client(p) for p in PEOPLE}

        @rule(
            target=cases,
            title=texts,
            description=st.text(max_size=40).filter(lambda s: s.isprintable()),
            severity=st.sampled_from(["P1", "P2", "P3", "P4"]),
            personal=st.booleans(),
            notify=st.booleans(),
            owner=st.sampled_from([None, "alice"]),
        )
        def create_case(
            self,
            title: str,
            description: str,
            severity: str,
            personal: bool,
            notify: bool,
            owner: str | None,
        ) -> str:
            body: dict[str, Any] = {
                "title": title,
                "description": description,
                "severity": severity,
                "personal_data": personal,
                "notification_required": notify,
            }
            if owner:
                body["owner"] = owner
            r = _ok(self.http["collector"].post("/v1/cases", json=body))
            assert r.status_code == 201, r.text
            return str(r.json()["case"]["id"])

        @rule(
            target=artifacts,
            case=cases,
            data=st.binary(min_size=1, max_size=64),
            when=st.booleans(),
        )
        def upload(self, case: str, data: bytes, when: bool) -> str:
            params = {"file_name": "e.bin", "source_host": "ws1"}
            if when:
                params["collected_at"] = "2026-01-02T03:04:05Z"
            r = _ok(
                self.http["collector"].post(
                    f"/v1/cases/{case}/artifacts", params=params, content=data
                )
            )
            assert r.status_code == 201, r.text
            return str(r.json()["artifact"]["id"])

        @rule(case=cases, who=st.sampled_from(["legal", "alice", "admin"]))
        def add_member(self, case: str, who: str) -> None:
            _ok(self.http["collector"].post(f"/v1/cases/{case}/members", json={"principal": who}))

        @rule(art=artifacts, to=st.sampled_from(PEOPLE), by=st.sampled_from(PEOPLE))
        def transfer(self, art: str, to: str, by: str) -> None:
            _ok(
                self.http[by].post(f"/v1/artifacts/{art}/transfers", json={"to": to, "reason": "r"})
            )

        @rule(case=cases, on=st.booleans())
        def hold(self, case: str, on: bool) -> None:
            _ok(self.http["legal"].post(f"/v1/cases/{case}/hold", json={"on": on, "reason": "h"}))

        @rule(
            case=cases,
            status=st.sampled_from(["triaged", "contained", "eradicated", "recovered", "closed"]),
            earlier=st.booleans(),
        )
        def status(self, case: str, status: str, earlier: bool) -> None:
            body: dict[str, Any] = {"status": status}
            if status != "closed":
                body["reason"] = "seen again"  # a closed case reopens only with a reason
            if earlier:
                body["occurred_at"] = "2026-03-04T05:06:07Z"
            _ok(self.http["collector"].patch(f"/v1/cases/{case}", json=body))

        @rule(case=cases, title=texts, severity=st.sampled_from(["P1", "P2", "P3", "P4"]))
        def edit(self, case: str, title: str, severity: str) -> None:
            body = {"title": title, "severity": severity, "description": title * 2}
            _ok(self.http["collector"].patch(f"/v1/cases/{case}", json=body))

        @rule(case=cases, personal=st.booleans(), notify=st.booleans(), notified=st.booleans())
        def privacy(self, case: str, personal: bool, notify: bool, notified: bool) -> None:
            body: dict[str, Any] = {"personal_data": personal, "notification_required": notify}
            body["notified_at"] = "2026-05-06T07:08:09Z" if notified else None
            _ok(self.http["legal"].patch(f"/v1/cases/{case}/privacy", json=body))

        @rule(case=cases, kind=st.sampled_from(["note", "decision"]), text=texts)
        def note(self, case: str, kind: str, text: str) -> None:
            _ok(
                self.http["collector"].post(
                    f"/v1/cases/{case}/notes", json={"kind": kind, "text": text}
                )
            )

        @rule(case=cases, summary=texts)
        def review(self, case: str, summary: str) -> None:
            body = {
                "summary": summary,
                "action_items": [{"title": "patch", "owner": "alice", "due": "2027-01-01"}],
            }
            _ok(self.http["collector"].post(f"/v1/cases/{case}/reviews", json=body))

        @precondition(lambda self: not hasattr(self, "added"))
        @rule(role=st.sampled_from(["collector", "auditor"]))
        def principal(self, role: str) -> None:
            self.added = True
            _ok(self.http["admin"].post("/v1/principals", json={"name": "zed", "role": role}))

        def teardown(self) -> None:
            if not hasattr(self, "live"):
                return
            try:
                for c in self.http.values():
                    c.close()
                report = audit(self.live.vault, content=False)
                assert report.ok, report.to_json()
                before = snapshot(self.live)
            finally:
                self.ctx.__exit__(None, None, None)
            drop_database(self.db_url, self.settings.data_dir)
            _, rebuilt = rebuild(self.settings)
            assert rebuilt.ok, rebuilt.to_json()
            with live_vault(self.settings, users=False) as again:
                assert snapshot(again) == before

    return VaultMachine


def test_random_operations_rebuild_field_equal(db_url: str, tmp_path: Path) -> None:
    machine = make_machine(db_url, tmp_path)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=4,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
