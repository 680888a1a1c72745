"""Incident response pages: a responder runs the ransomware playbook from the case page
to contained (steps done, skipped with a reason, deviated; all sealed), the checklist shows
who did what and when at 1366 and 390 px, and an action item's owner finds it overdue on
their list and closes it with evidence."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import Site, shot, sign_in


def test_responder_runs_ransomware_playbook_to_contained(page: Page, site: Site) -> None:
    sign_in(page, site, "collector")
    page.goto(f"{site.url}/cases/{site.other_case}")
    section = page.locator("section", has=page.locator("#pb-h"))
    expect(section).to_contain_text("Not classified yet")
    form = page.get_by_role("form", name="Classification")
    form.get_by_label("Scenario").select_option(label="Ransomware")
    form.get_by_role("button", name="Classify and assign playbook").click()
    expect(page).to_have_url(re.compile(r"\?done=classified#pb-h$"))
    expect(page.get_by_role("status").first).to_contain_text("Case classified")
    steps = page.locator("ol.playbook > li")
    expect(steps).to_have_count(9)
    expect(page.locator("#pb-h")).to_contain_text("Ransomware 9 open")
    isolate = steps.filter(has_text="Isolate affected hosts")
    expect(isolate).to_contain_text("pre-authorised: isolate host")
    expect(steps.filter(has_text="Block known")).to_contain_text("block IPs and domains")

    # Done 25 minutes ago, as told; the page takes UTC.
    told = (datetime.now(UTC) - timedelta(minutes=25)).replace(second=0, microsecond=0)
    isolate.get_by_text("Record this step").click()  # each step's form opens on demand
    isolate.get_by_label("When it was done").fill(told.strftime("%Y-%m-%dT%H:%M:%S"))
    isolate.get_by_label("Reason").fill("EDR network containment, INC-4712")
    isolate.get_by_role("button", name="Record step").click()
    expect(page.get_by_role("status").first).to_contain_text("recorded as done")
    expect(isolate).to_contain_text(f"Done {told.strftime('%Y-%m-%d %H:%M:%S')} UTC by collector")

    # Skipping without a reason is refused by the server, and nothing is recorded.
    memory = steps.filter(has_text="Capture memory")
    memory.get_by_text("Record this step").click()
    memory.get_by_role("radio", name="skipped").check()
    memory.get_by_role("button", name="Record step").click()
    expect(page.locator("h1")).to_contain_text("Some fields need correcting")
    expect(page.locator(".reason")).to_contain_text("needs a reason")
    page.go_back()
    page.reload()
    memory.get_by_text("Record this step").click()
    memory.get_by_role("radio", name="skipped").check()
    memory.get_by_label("Reason").fill("hosts were rebooted by the helpdesk before triage")
    memory.get_by_role("button", name="Record step").click()
    expect(memory).to_contain_text("Skipped")
    expect(memory).to_contain_text("rebooted by the helpdesk")

    blocks = steps.filter(has_text="Block known command-and-control")
    blocks.get_by_text("Record this step").click()
    blocks.get_by_role("radio", name="deviated").check()
    blocks.get_by_label("Reason").fill("blocked at the web proxy; the firewall change is frozen")
    blocks.get_by_role("button", name="Record step").click()
    expect(blocks).to_contain_text("Deviated")
    expect(page.locator("#pb-h")).to_contain_text("6 open")

    status = page.get_by_role("form", name="Status and severity")
    status.get_by_label("Status").select_option("contained")
    status.get_by_role("button", name="Update case").click()
    expect(page.locator(".case-head .status")).to_have_text("contained")
    timeline = page.locator("section", has=page.locator("#tl-h"))
    expect(timeline.locator("li.c-playbook")).to_have_count(4)
    expect(timeline).to_contain_text("Playbook step “Capture memory and the ransom note")
    shot(page, "20-playbook-1366")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    section.scroll_into_view_if_needed()
    wide = page.evaluate(
        """() => [...document.querySelectorAll('#pb-h, ol.playbook, ol.playbook *')]
              .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
              .map(el => el.tagName + '.' + el.className)"""
    )
    assert wide == []
    shot(page, "21-playbook-390")
    assert page.errors == []  # type: ignore[attr-defined]

    with site.live.client("auditor") as c:
        checklist = c.get(f"/v1/cases/{site.other_case}/playbook").json()
    by_id = {s["id"]: s for s in checklist["steps"]}
    assert datetime.fromisoformat(by_id["isolate-hosts"]["occurred_at"]) == told
    assert by_id["collect-memory"]["state"] == "skipped"
    assert by_id["block-iocs"]["state"] == "deviated"


def test_readers_see_the_checklist_without_forms(page: Page, site: Site) -> None:
    with site.live.client("collector") as c:
        r = c.post(f"/v1/cases/{site.case_id}/classification", json={"scenario": "data-loss"})
        assert r.status_code == 200, r.text
    sign_in(page, site, "auditor")
    page.goto(f"{site.url}/cases/{site.case_id}")
    expect(page.locator("ol.playbook > li")).to_have_count(7)
    expect(page.locator("ol.playbook form.step-form")).to_have_count(0)
    expect(page.get_by_role("form", name="Classification")).to_have_count(0)
    # Legal may record the communication steps only.
    page.context.clear_cookies()
    sign_in(page, site, "legal")
    page.goto(f"{site.url}/cases/{site.case_id}")
    expect(page.locator("ol.playbook form.step-form")).to_have_count(3)
    notify = page.locator("ol.playbook > li", has_text="Notify the supervisory authority")
    notify.get_by_text("Record this step").click()
    notify.get_by_role("button", name="Record step").click()
    expect(notify).to_contain_text("Done")
    expect(notify).to_contain_text("by legal")


def test_step_form_without_csrf_token_is_refused(page: Page, site: Site) -> None:
    sign_in(page, site, "collector")
    page.goto(f"{site.url}/cases/{site.quiet_case}")
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: 'POST', body: new URLSearchParams(
            {scenario: 'bec'})})).status""",
        f"/cases/{site.quiet_case}/classification",
    )
    assert status == 403
    with site.live.client("collector") as c:
        assert c.get(f"/v1/cases/{site.quiet_case}/playbook").json()["scenario"] is None


def test_owner_sees_overdue_items_and_closes_one_with_evidence(page: Page, site: Site) -> None:
    """Legal owns the seeded review's overdue item: it leads legal's list, and closing it
    from the case page needs a note or an artifact."""
    sign_in(page, site, "legal")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My action items").click()
    expect(page.locator("h1")).to_have_text("My action items")
    first = page.locator("ol.items > li").first
    expect(first).to_contain_text("OVERDUE")
    expect(first).to_contain_text("Review EDR alert routing")
    shot(page, "22-action-items")
    first.get_by_role("link", name=site.case_id).click()
    item = page.locator("ol.items > li", has_text="Review EDR alert routing")
    item.get_by_text("Close with evidence").click()
    item.get_by_role("button", name="Close item").click()  # no evidence: refused
    expect(page.locator("h1")).to_contain_text("The request could not be used")
    expect(page.locator(".reason")).to_contain_text("needs the evidence of its check")
    page.go_back()
    page.reload()
    item.get_by_text("Close with evidence").click()
    item.get_by_label("Evidence note").fill("routing now pages the on-call analyst")
    item.get_by_label("Evidence artifact").select_option(site.artifact_id)
    item.get_by_role("button", name="Close item").click()
    expect(page.get_by_role("status").first).to_contain_text("Action item closed")
    expect(item).to_contain_text(f"with evidence {site.artifact_id}")
    expect(item).not_to_contain_text("OVERDUE")
    assert page.errors == []  # type: ignore[attr-defined]


def test_asset_recorded_from_the_case_page_shows_its_containment_and_evidence(
    page: Page, site: Site
) -> None:
    """The seeded case isolated fs01.corp.example and collected memory from it."""
    sign_in(page, site, "collector")
    page.goto(f"{site.url}/cases/{site.case_id}")
    section = page.locator("section", has=page.locator("#as-h"))
    expect(section).to_contain_text("No assets recorded")
    section.get_by_text("Record an asset").click()
    form = page.get_by_role("form", name="Record an asset")
    form.get_by_label("Kind").select_option("host")
    form.get_by_label("Name").fill("FS01.corp.example")
    form.get_by_label("Owner").fill("Finance IT")
    form.get_by_label("Business criticality").select_option("critical")
    form.get_by_role("button", name="Record asset").click()
    expect(page.get_by_role("status").first).to_contain_text("Asset recorded")
    row = section.locator("ol.items > li", has_text="FS01.corp.example")
    expect(row).to_contain_text("1 containment action(s) · 1 artifact(s)")
    row.get_by_role("link", name="FS01.corp.example").click()
    expect(page.locator("h1")).to_have_text("FS01.corp.example")
    expect(page.locator("section", has=page.locator("#ac-h"))).to_contain_text("isolate host")
    expect(page.locator("section", has=page.locator("#aa-h"))).to_contain_text("fs01-memory.raw")
    shot(page, "23-asset")
    assert page.errors == []  # type: ignore[attr-defined]


def test_leadership_metrics_page_and_csv(page: Page, site: Site) -> None:
    """A responder records when the activity began; leadership reads MTTD, the lagging
    indicators and downloads the CSV."""
    with site.live.client("collector") as c:
        r = c.post(
            f"/v1/cases/{site.quiet_case}/reviews",
            json={
                "summary": "Laptop was not encrypted",
                "action_items": [
                    {"title": "Encrypt every laptop", "owner": "collector", "due": "2026-02-01"}
                ],
            },
        )
        assert r.status_code == 201, r.text
    sign_in(page, site, "collector")
    page.goto(f"{site.url}/cases/{site.quiet_case}")
    form = page.get_by_role("form", name="Detection and root cause")
    began = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    form.get_by_label("First malicious activity").fill(began.strftime("%Y-%m-%dT%H:%M:%S"))
    form.get_by_label("Root cause").fill("unencrypted laptop")
    form.get_by_role("button", name="Record assessment").click()
    expect(page.get_by_role("status").first).to_contain_text("Detection and root cause recorded")
    page.context.clear_cookies()

    sign_in(page, site, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics").click()
    lead = page.locator("section", has=page.locator("#lead-h"))
    p2 = lead.locator("table", has_text="Per severity").locator("tr", has_text="P2")
    expect(p2.locator("td").nth(2)).to_have_text("1")  # one P2 with a known first activity
    expect(p2.locator("td").nth(1)).not_to_have_text("—")
    lagging = page.locator("section", has=page.locator("#lag-h"))
    expect(lagging).to_contain_text("Encrypt every laptop")
    shot(page, "24-leadership-metrics")
    with page.expect_download() as dl:
        lead.get_by_role("link", name="Export CSV").click()
    text = Path(dl.value.path()).read_text()
    assert text.startswith("section,key,metric,value,case")
    assert "overdue_action_item,Encrypt every laptop,days_overdue" in text
    assert page.errors == []  # type: ignore[attr-defined]


def test_regulator_update_drafted_reviewed_and_issued(page: Page, site: Site) -> None:
    sign_in(page, site, "collector")
    page.goto(f"{site.url}/cases/{site.case_id}")
    comms = page.locator("section", has=page.locator("#com-h"))
    comms.get_by_role("link", name="Regulator").click()
    expect(page.locator("h1")).to_have_text("Regulator update")
    text = page.get_by_label("Text")
    expect(text).to_have_value(re.compile(r"Personal data breach notification"))
    expect(text).to_have_value(re.compile(r"Isolated host fs01\.corp\.example \(collector\)"))
    shot(page, "25-regulator-draft")
    text.fill(text.input_value() + "\nReviewed by counsel.")
    page.get_by_label("Issued to").fill("Data protection authority")
    page.get_by_role("button", name="Issue update").click()
    expect(page.get_by_role("status").first).to_contain_text("Update issued")
    expect(comms).to_contain_text("Regulator update issued to Data protection authority")
    expect(comms).to_contain_text("edited after review")
    issued = comms.locator("a[href^='/artifacts/']").first
    issued.click()
    expect(page.locator("h1")).to_contain_text("regulator-update-")
    assert page.errors == []  # type: ignore[attr-defined]
