"""Whole journeys through the pages, as the people who use them would go.

A responder opens a ransomware case in the browser, classifies it, works the playbook's
containment steps (uploading the memory image the capture step asks for) and declares
the case contained; leadership reads the metrics that case feeds. Screenshots at 1366 and
390 px go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.web.conftest import shot

PHONE = {"width": 390, "height": 844}
#: the ransomware playbook's steps up to containment, in its order
CONTAINMENT = (
    "Identify affected hosts",
    "Isolate affected hosts",
    "Capture memory and the ransom note",
    "Revoke credentials and sessions",
    "Block known command-and-control",
    "Confirm backups are offline",
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    root = tmp_path_factory.mktemp("journeys")
    with live_vault(make_settings(root / "vault", f"sqlite:///{root / 'locard.db'}")) as lv:
        yield lv


def sign_in(page: Page, live: LiveVault, role: str) -> None:
    page.goto(f"{live.url}/signin")
    page.fill("#token", live.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/cases")


def wider_than_screen(page: Page, selector: str) -> list[str]:
    return list(
        page.evaluate(
            """(sel) => [...document.querySelectorAll(sel)]
                 .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
                 .map(el => el.tagName + '.' + el.className)""",
            selector,
        )
    )


def test_responder_runs_a_ransomware_case_to_contained(
    page: Page, live: LiveVault, tmp_path: Path
) -> None:
    sign_in(page, live, "collector")
    page.get_by_role("link", name="Open a case").click()
    form = page.get_by_role("form", name="Open a case")
    form.get_by_label("Title").fill("Ransomware on FS02")
    form.get_by_label("Severity").select_option("P1")
    form.get_by_role("button", name="Open case").click()
    case_id = page.locator("h1 .cid").inner_text()

    page.get_by_role("link", name=case_id).click()
    classify = page.get_by_role("form", name="Classification")
    classify.get_by_label("Scenario").select_option(label="Ransomware")
    classify.get_by_role("button", name="Classify and assign playbook").click()
    expect(page.get_by_role("status").first).to_contain_text("Case classified")
    steps = page.locator("ol.playbook > li")
    total = steps.count()

    for n, title in enumerate(CONTAINMENT, start=1):
        step = steps.filter(has_text=title)
        if title.startswith("Capture memory"):
            # the capture is evidence: upload it before recording the step
            page.locator("section", has=page.locator("#art-h")).get_by_role(
                "link", name="Upload evidence"
            ).click()
            memory = tmp_path / "fs02-memory.raw"
            memory.write_bytes(os.urandom(3 << 20))
            upload = page.get_by_role("form", name="Upload evidence")
            upload.get_by_label("File", exact=True).set_input_files(str(memory))
            upload.get_by_label("Collected from (host)").fill("fs02")
            upload.get_by_role("button", name="Upload").click()
            expect(upload).to_have_attribute("data-phase", "done", timeout=120_000)
            page.get_by_role("link", name=case_id).click()
        step.get_by_text("Record this step").click()
        step.get_by_label("Reason").fill(f"step {n} of the runbook, ticket INC-{5000 + n}")
        step.get_by_role("button", name="Record step").click()
        expect(page.get_by_role("status").first).to_contain_text("recorded as done")
        expect(step).to_contain_text("Done")
        expect(page.locator("#pb-h")).to_contain_text(f"{total - n} open")

    status = page.get_by_role("form", name="Status and severity")
    status.get_by_label("Status").select_option("contained")
    status.get_by_role("button", name="Update case").click()
    expect(page.locator(".case-head .status")).to_have_text("contained")
    expect(page.locator("section", has=page.locator("#art-h"))).to_contain_text("fs02-memory.raw")
    shot(page, "40-journey-contained-1366")

    page.set_viewport_size(PHONE)
    page.reload()
    assert wider_than_screen(page, "#pb-h, ol.playbook, ol.playbook *") == []
    shot(page, "41-journey-contained-390")
    assert page.errors == []  # type: ignore[attr-defined]

    with live.client("auditor") as c:
        checklist = c.get(f"/v1/cases/{case_id}/playbook").json()
        incident = c.get(f"/v1/cases/{case_id}/incident").json()
    states = [s["state"] for s in checklist["steps"]]
    assert states[: len(CONTAINMENT)] == ["done"] * len(CONTAINMENT)
    assert set(states[len(CONTAINMENT) :]) == {"pending"}
    assert incident["status"] == "contained"


def test_leadership_reads_the_metrics_on_a_laptop_and_a_phone(page: Page, live: LiveVault) -> None:
    with live.client("collector") as c:
        for title, severity, path in (
            ("Ransomware on FS03", "P1", ("triaged", "contained")),
            ("Phishing wave", "P3", ("triaged", "contained", "eradicated", "recovered")),
            ("Lost laptop", "P2", ("triaged",)),
        ):
            r = c.post("/v1/cases", json={"title": title, "severity": severity})
            case_id = r.json()["case"]["id"]
            for status in path:
                assert c.patch(f"/v1/cases/{case_id}", json={"status": status}).is_success
    with live.client("auditor") as c:
        expected = c.get("/v1/metrics").json()

    sign_in(page, live, "auditor")  # leadership reads; it records nothing
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics").click()
    expect(page.locator("h1")).to_contain_text("metrics", ignore_case=True)
    per_severity = page.locator("section", has=page.locator("#tbl-h"))
    expect(per_severity.locator("tr", has_text="P1")).to_be_visible()
    expect(page.locator("section", has=page.locator("#mttc-h")).locator("svg")).to_be_visible()
    lead = page.locator("section", has=page.locator("#lead-h"))
    expect(lead.get_by_role("link", name="Export CSV")).to_be_visible()
    for row in expected["per_severity"]:  # the page and the API count the same cases
        cells = per_severity.locator("tr", has=page.locator(f"th:text-is('{row['severity']}')"))
        expect(cells.locator("td").first).to_have_text(str(row["declared"]))
    assert {r["severity"]: r["declared"] for r in expected["per_severity"]}["P1"] >= 1
    shot(page, "42-leadership-metrics-1366")

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#mttc-h")).to_be_visible()
    shot(page, "43-leadership-metrics-390")
    assert page.errors == []  # type: ignore[attr-defined]
