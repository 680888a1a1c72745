"""Pages people can work in: long lists in pages with a date range, sentences for events,
breaches that read as breaches, holds that ask first, times in the viewer's zone, a
reopen that says why."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import Site, sign_in


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code < 300, r.text
    out: dict[str, Any] = r.json()
    return out


def _event_count(site: Site, case_id: str) -> int:
    with site.live.client("legal") as c:
        return int(_ok(c.get(f"/v1/cases/{case_id}/timeline"))["total"])


def test_timeline_pages_and_date_range(page: Page, site: Site) -> None:
    with site.live.client("collector") as c:
        case = _ok(c.post("/v1/cases", json={"title": "Noisy", "severity": "P4"}))["case"]["id"]
        for n in range(104):
            _ok(c.post(f"/v1/cases/{case}/notes", json={"text": f"observation {n:03d}"}))
    sign_in(page, site, "collector")
    response = page.goto(f"{site.url}/cases/{case}/timeline")
    assert response is not None
    first_page = len(response.body())
    expect(page.locator("ol.timeline > li")).to_have_count(100)
    expect(page.get_by_role("status")).to_contain_text("105 of 105 event(s), 1–100 on this page")
    pager = page.get_by_role("navigation", name="Pages of events").first
    expect(pager).to_contain_text("page 1 of 2")
    pager.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"page=2$"))
    expect(page.locator("ol.timeline > li")).to_have_count(5)
    expect(page.locator("ol.timeline")).to_contain_text("observation 103")
    assert first_page < 120_000  # a page of 100 events, not the whole history

    # A date range: everything happened today, so tomorrow onwards is empty.
    today = datetime.now(UTC).date()
    page.goto(f"{site.url}/cases/{case}/timeline")
    page.fill("#f-from", (today + timedelta(days=1)).isoformat())
    page.click("form.filters button[type=submit]")
    expect(page.get_by_role("status")).to_contain_text("0 of 105 event(s)")
    page.fill("#f-from", today.isoformat())
    page.fill("#f-to", today.isoformat())
    page.click("form.filters button[type=submit]")
    expect(page.get_by_role("status")).to_contain_text("105 of 105 event(s)")
    # The CSV link exports the same range through the API's since/until.
    href = page.get_by_role("link", name="Export these as CSV").get_attribute("href") or ""
    assert "since=" in href and "until=" in href

    for bad, status in (("from=yesterday", 400), ("page=0", 422), ("page=3", 400)):
        r = page.goto(f"{site.url}/cases/{case}/timeline?{bad}")
        assert r is not None and r.status == status, bad
    r = page.goto(f"{site.url}/cases/{case}/timeline?from=2026-12-07&to=2026-12-01")
    assert r is not None and r.status == 400


def test_case_list_pages_and_filters_by_declaration_day(page: Page, site: Site) -> None:
    with site.live.client("collector") as c:
        known = len(_ok(c.get("/v1/cases")))
        for n in range(51 - known):
            _ok(c.post("/v1/cases", json={"title": f"Alert {n}", "severity": "P4"}))
    sign_in(page, site, "collector")
    expect(page.locator("table.cases caption")).to_contain_text("51 case(s)")
    expect(page.locator("table.cases tbody tr")).to_have_count(50)
    page.get_by_role("navigation", name="Pages of cases").get_by_role("link", name="Next").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(1)
    # The worked example was declared two days ago; the alerts today.
    day = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    page.goto(f"{site.url}/cases?from={day}&to={day}")
    rows = page.locator("table.cases tbody tr")
    expect(rows.filter(has_text=site.case_id)).to_have_count(1)
    expect(rows.filter(has_text="Alert 0")).to_have_count(0)
    r = page.goto(f"{site.url}/cases?to=not-a-day")
    assert r is not None and r.status == 400


def test_event_summaries_are_sentences_with_names(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    page.goto(f"{site.url}/cases/{site.case_id}/timeline")
    events = page.locator("ol.timeline")
    expect(events).to_contain_text("collector handed fs01-memory.raw")
    expect(events).to_contain_text("Isolated host fs01.corp.example (collector)")
    expect(events).to_contain_text("Disabled account svc-backup (collector)")
    expect(events).to_contain_text("Status changed from new to triaged")
    expect(events).to_contain_text("Read fs01-memory.raw")
    status = events.locator("li", has_text="Status changed from new to triaged")
    expect(status.locator(".cat")).to_have_text("case")  # not "decision"
    for raw in ("Custody of", "Updated status", ": succeeded", "Isolate host", "→"):
        expect(events).not_to_contain_text(raw)


def test_breached_deadline_reads_as_breached(page: Page, site: Site) -> None:
    declared = datetime.now(UTC) - timedelta(hours=5)
    with site.live.client("collector") as c:
        case = _ok(
            c.post(
                "/v1/cases",
                json={
                    "title": "Late triage",
                    "severity": "P1",
                    "declared_at": declared.isoformat(),
                    "notification_required": True,
                    "aware_at": declared.isoformat(),
                },
            )
        )["case"]["id"]
        _ok(c.patch(f"/v1/cases/{case}", json={"status": "triaged"}))
    sign_in(page, site, "legal")
    page.goto(f"{site.url}/cases/{case}")
    deadlines = page.locator("table.deadlines")
    ack = deadlines.locator("tr", has_text="Acknowledge")
    expect(ack.locator(".badge")).to_have_text("BREACHED")
    expect(ack).to_contain_text(re.compile(r"met 4 h \d\d min late, after 5 h"))
    notify = deadlines.locator("tr", has_text="Notify")
    expect(notify).to_contain_text("72 hours from awareness")
    expect(notify).to_contain_text(re.compile(r"in 6\d h \d\d min"))  # hours, not "2 d 19 h"
    page.goto(f"{site.url}/legal")
    expect(page.locator("main")).to_contain_text("Window: 72 hours from awareness")


def test_verified_says_what_and_when(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    page.goto(f"{site.url}/artifacts/{site.artifact_id}")
    scope = page.locator(".verified-scope")
    expect(scope).to_contain_text(
        "custody chain, signed receipt and stored size checked (bytes not re-read)"
    )
    expect(scope.locator("time")).to_have_count(2)  # when checked; when last read in full
    expect(scope).to_contain_text("Stored bytes last read in full")
    page.goto(f"{site.url}/cases/{site.case_id}")
    row = page.locator("table.artifacts tr", has_text="fs01-memory.raw")
    expect(row).to_contain_text("bytes not re-read")


def test_admin_sees_no_hold_controls(page: Page, site: Site) -> None:
    sign_in(page, site, "admin")
    page.goto(f"{site.url}/cases/{site.case_id}")
    expect(page.locator("h1")).to_contain_text("Ransomware on FS01")
    expect(page.get_by_role("form", name="Legal hold")).to_have_count(0)
    expect(page.get_by_role("button", name="Place legal hold")).to_have_count(0)
    r = page.goto(f"{site.url}/cases/{site.case_id}/hold")
    assert r is not None and r.status == 403


def test_times_in_the_viewers_zone_and_earlier_notification(browser: Browser, site: Site) -> None:
    ctx = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin")
    try:
        page = ctx.new_page()
        with site.live.client("collector") as c:
            case = _ok(
                c.post(
                    "/v1/cases",
                    json={"title": "Exfil", "severity": "P2", "notification_required": True},
                )
            )["case"]["id"]
        sign_in(page, site, "legal")
        page.goto(f"{site.url}/cases/{case}")
        declared = page.locator("#sum-h ~ dl.facts > dd").nth(1)  # Owner, Declared, …
        expect(declared).to_contain_text(re.compile(r"CET|GMT\+1"))
        expect(declared.locator(".utc")).to_contain_text("UTC")
        form = page.get_by_role("form", name="Privacy flags")
        expect(form).to_contain_text("your time, Europe/Berlin")
        form.get_by_label(re.compile("^Aware since")).fill("2026-12-01T10:00:00")
        form.get_by_label(re.compile("^Notification made at")).fill("2026-12-02T09:30:00")
        form.get_by_role("button", name="Save flags").click()
        expect(page.get_by_role("status").first).to_contain_text("flags updated")
        with site.live.client("legal") as c:
            facts = _ok(c.get(f"/v1/cases/{case}/incident"))["privacy"]
        # Berlin is UTC+1 in December: typed local times are stored in UTC.
        assert facts["aware_at"].startswith("2026-12-01T09:00:00")
        assert facts["notified_at"].startswith("2026-12-02T08:30:00")

        # A zone the server does not know is refused, and nothing is written.
        before = _event_count(site, case)
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        status = page.evaluate(
            """async ([url, csrf]) => (await fetch(url, {method: 'POST', body:
                new URLSearchParams({csrf, aware_at: '2026-12-01T08:00', tz: 'Mars/Olympus'})
            })).status""",
            [f"/cases/{case}/privacy", csrf],
        )
        assert status == 400
        assert _event_count(site, case) == before
    finally:
        ctx.close()


def test_closed_case_reopens_only_with_a_reason(page: Page, site: Site) -> None:
    with site.live.client("collector") as c:
        case = _ok(c.post("/v1/cases", json={"title": "Closed early", "severity": "P3"}))
        case_id = case["case"]["id"]
        _ok(c.patch(f"/v1/cases/{case_id}", json={"status": "closed"}))
        before = _event_count(site, case_id)
        # the API: no reason, no reopen (422), and nothing sealed
        r = c.patch(f"/v1/cases/{case_id}", json={"status": "triaged"})
        assert r.status_code == 422 and "reason" in r.text
        assert _event_count(site, case_id) == before
        r = c.patch(f"/v1/cases/{case_id}", json={"status": "triaged", "reason": ""})
        assert r.status_code == 422
    with site.live.client("auditor") as c:
        r = c.patch(f"/v1/cases/{case_id}", json={"status": "triaged", "reason": "x"})
        assert r.status_code == 403
    assert _event_count(site, case_id) == before

    sign_in(page, site, "collector")
    page.goto(f"{site.url}/cases/{case_id}")
    form = page.get_by_role("form", name="Status and severity")
    form.get_by_label("Status").select_option("triaged")
    form.get_by_role("button", name="Update case").click()
    expect(page.locator("h1")).to_contain_text("Some fields need correcting")
    assert _event_count(site, case_id) == before
    page.goto(f"{site.url}/cases/{case_id}")
    form.get_by_label("Status").select_option("triaged")
    form.get_by_label(re.compile("^Reason to reopen")).fill("Same actor seen again on VPN")
    form.get_by_role("button", name="Update case").click()
    expect(page.get_by_role("status").first).to_contain_text("Case updated")
    expect(page.locator(".case-head .status")).to_have_text("triaged")
    expect(page.locator("ol.timeline")).to_contain_text(
        "Reopened as triaged: Same actor seen again on VPN"
    )
    with site.live.client("legal") as c:
        tl = _ok(c.get(f"/v1/cases/{case_id}/timeline", params={"type": "case.updated"}))
    body = tl["entries"][-1]["body"]
    assert body["reason"] == "Same actor seen again on VPN" and body["v"] == 3


def test_favicon(site: Site) -> None:
    with site.live.client() as c:
        r = c.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"


def test_legal_register_and_action_items_paginate(page: Page, site: Site) -> None:
    with site.live.client("collector") as c:
        known = len(_ok(c.get("/v1/cases")))
        for n in range(51 - known):
            _ok(c.post("/v1/cases", json={"title": f"Register {n}", "severity": "P4"}))
    # other tests of this module may add cases to the shared vault: count what legal sees
    with site.live.client("legal") as c:
        total = len(_ok(c.get("/v1/cases")))
    assert total >= 51
    sign_in(page, site, "legal")
    page.goto(f"{site.url}/legal")
    register = page.get_by_role("region", name="Cases table (scrolls sideways on narrow screens)")
    expect(register.locator("tbody tr")).to_have_count(50)
    pager = page.get_by_role("navigation", name="Pages of cases")
    expect(pager).to_contain_text(f"of {total}")
    pager.get_by_role("link", name="Next").click()
    expect(register.locator("tbody tr")).to_have_count(min(total - 50, 50))
    for bad, status in (("/legal?page=99", 400), ("/legal?page=0", 422)):
        r = page.goto(site.url + bad)
        assert r is not None and r.status == status, bad
    sign_in(page, site, "collector")
    for bad, status in (("/action-items?page=2", 400), ("/action-items?page=x", 422)):
        r = page.goto(site.url + bad)
        assert r is not None and r.status == status, bad
