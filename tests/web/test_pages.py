"""The web pages in a real browser: sign-in, roles, custody chain, downloads, hold, ledger."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.web.conftest import Site, shot, sign_in


def _registered(site: Site, path: str) -> bool:
    with site.live.client() as c:
        return path in c.get("/openapi.json").json()["paths"]


def test_sign_in_as_legal_and_list_cases(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/cases")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fcases$"))
    shot(page, "01-signin")
    sign_in(page, site, "legal")
    expect(page.locator("h1")).to_have_text("Cases")
    expect(page.locator(".whoami")).to_contain_text("legal")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Legal & privacy")).to_be_visible()
    expect(nav.get_by_role("link", name="Ledger")).to_be_visible()
    rows = page.locator("table.cases tbody tr")
    expect(rows).to_have_count(3)
    row = rows.filter(has_text=site.case_id)
    expect(row).to_contain_text("Ransomware on FS01")
    expect(row).to_contain_text("contained")
    shot(page, "02-cases")

    page.select_option("#f-sev", "P2")
    page.click("form.filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Lost laptop")
    assert page.errors == []  # type: ignore[attr-defined]


def test_session_cookie_is_httponly_and_strict(context: BrowserContext, site: Site) -> None:
    page = context.new_page()
    sign_in(page, site, "auditor")
    (cookie,) = [c for c in context.cookies() if c["name"] == "locard_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    # A session id, not the API token: the token never leaves the sign-in form.
    assert cookie["value"].startswith("lws_") and site.live.tokens["auditor"] not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session


def test_bad_token_is_refused_with_a_clear_message(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/signin")
    page.fill("#token", "lcd_not-a-real-token")
    with page.expect_response(re.compile(r"/signin$")) as resp:
        page.click("button[type=submit]")
    assert resp.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("That token was not accepted.")


def test_case_page_and_custody_chain(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    page.click(f"text={site.case_id}")
    expect(page.locator("h1")).to_contain_text("Ransomware on FS01")
    summary = page.locator("section", has=page.locator("#sum-h"))
    expect(summary).to_contain_text("Acknowledged")
    deadlines = page.locator("table.deadlines")
    expect(deadlines.locator("tr", has_text="Acknowledge")).to_contain_text("met")
    expect(deadlines.locator("tr", has_text="Contain")).to_contain_text("met")
    expect(deadlines.locator("tr", has_text="Notify")).to_contain_text("due")
    artifacts = page.locator("table.artifacts")
    expect(artifacts).to_contain_text(site.artifact_sha256)
    expect(artifacts.locator("tr", has_text="fs01-memory.raw")).to_contain_text("verified")
    expect(page.locator("#act-h + .scroll")).to_contain_text("isolate host")
    timeline = page.locator("section", has=page.locator("#tl-h"))
    expect(timeline).to_contain_text("Decision: Restore from backup")
    expect(page.locator("#rev-h ~ article")).to_contain_text("OVERDUE")
    shot(page, "03-case")

    page.click("table.artifacts >> text=fs01-memory.raw")
    expect(page.locator("h1")).to_have_text("fs01-memory.raw")
    chain = page.locator("ol.chain > li")
    expect(chain).to_have_count(3)
    expect(chain.nth(0)).to_contain_text("ingest")
    expect(chain.nth(1)).to_contain_text("access")
    expect(chain.nth(1)).to_contain_text("triage")
    expect(chain.nth(2)).to_contain_text("transfer")
    expect(chain.nth(2)).to_contain_text("collector handed fs01-memory.raw")
    expect(chain.nth(2)).to_contain_text("to legal")
    checklist = page.locator("ul.checklist")
    expect(checklist.locator("li.chk-fail")).to_have_count(0)
    for name in ("custody chain", "checkpoint signature", "inclusion proof", "stored object"):
        expect(checklist.locator("li.chk-pass", has_text=name).first).to_be_visible()
    shot(page, "04-artifact")
    assert page.errors == []  # type: ignore[attr-defined]


def test_download_requires_a_reason_and_is_recorded(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    page.goto(f"{site.url}/artifacts/{site.artifact_id}")
    button = page.get_by_role("button", name=re.compile("^Download"))
    button.click()  # no reason: the browser refuses to send the form
    expect(page).to_have_url(f"{site.url}/artifacts/{site.artifact_id}")
    assert page.eval_on_selector("#reason", "el => el.validity.valueMissing") is True
    page.fill("#reason", "expert witness copy")
    with page.expect_download() as dl:
        button.click()
    path = Path(dl.value.path())
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == site.artifact_sha256
    page.reload()
    expect(page.locator("ol.chain > li").last).to_contain_text("expert witness copy")


@pytest.mark.parametrize(("fmt", "label"), [("json", "JSON"), ("pdf", "PDF")])
def test_download_report(page: Page, site: Site, fmt: str, label: str) -> None:
    if not _registered(site, "/v1/cases/{case_id}/report." + fmt):
        pytest.skip(f"report.{fmt} is not registered on this server yet")
    sign_in(page, site, "legal")
    page.goto(f"{site.url}/cases/{site.case_id}")
    with page.expect_download() as dl:
        page.get_by_role("link", name=f"Custody report ({label})").click()
    data = Path(dl.value.path()).read_bytes()
    if fmt == "json":
        report = json.loads(data)
        text = json.dumps(report)
        assert site.case_id in text and site.artifact_sha256 in text
    else:
        assert data.startswith(b"%PDF-") and len(data) > 1000
    page.reload()
    expect(page.locator("section", has=page.locator("#tl-h"))).to_contain_text(
        "Custody report issued"
    )


def test_download_bundle(page: Page, site: Site) -> None:
    if not _registered(site, "/v1/cases/{case_id}/bundle"):
        pytest.skip("the bundle endpoint is not registered on this server yet")
    sign_in(page, site, "auditor")
    page.goto(f"{site.url}/cases/{site.case_id}")
    with page.expect_download() as dl:
        page.get_by_role("link", name="Evidence bundle").click()
    assert Path(dl.value.path()).stat().st_size > 0


def test_place_hold_and_see_it_in_the_timeline(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    page.goto(f"{site.url}/cases/{site.quiet_case}")
    form = page.get_by_role("form", name="Legal hold")
    form.get_by_label("Reason").fill("Litigation notice 2026-14")
    form.get_by_role("button", name="Place legal hold").click()
    # Placing a hold asks once more, saying what it binds; nothing is sealed yet.
    expect(page.locator("h1")).to_contain_text(f"Place a legal hold on {site.quiet_case}?")
    expect(page.locator("main")).to_contain_text("Litigation notice 2026-14")
    with site.live.client("legal") as c:
        assert c.get(f"/v1/cases/{site.quiet_case}").json()["legal_hold"] is False
    page.get_by_role("button", name="Yes, place the legal hold").click()
    expect(page.get_by_role("status").first).to_contain_text("Legal hold placed")
    expect(page.locator(".case-head")).to_contain_text("legal hold")
    timeline = page.locator("section", has=page.locator("#tl-h"))
    expect(timeline.locator("li.c-legal")).to_contain_text(
        "Legal hold placed on 0 object(s): Litigation notice 2026-14"
    )
    expect(timeline.locator("li.c-legal")).to_contain_text("legal")
    shot(page, "05-case-hold")
    with site.live.client("legal") as c:
        assert c.get(f"/v1/cases/{site.quiet_case}").json()["legal_hold"] is True

    page.goto(f"{site.url}/cases?hold=yes")
    expect(page.locator("table.cases tbody tr")).to_have_count(1)

    page.goto(f"{site.url}/cases/{site.quiet_case}/hold")
    shot(page, "06-hold")
    page.fill("#reason", "Matter settled")
    page.get_by_role("button", name="Release legal hold").click()
    expect(page).to_have_url(re.compile(r"/hold\?done=hold_released$"))
    expect(page.locator("ol.timeline")).to_contain_text("Legal hold released: Matter settled")


def test_collector_is_refused_the_legal_pages(page: Page, site: Site) -> None:
    sign_in(page, site, "collector")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Legal & privacy")).to_have_count(0)
    expect(nav.get_by_role("link", name="Ledger")).to_have_count(0)
    for path in ("/legal", f"/cases/{site.case_id}/hold", "/ledger"):
        response = page.goto(f"{site.url}{path}")
        assert response is not None and response.status == 403, path
        expect(page.locator("h1")).to_contain_text("Not allowed for your role")
        expect(page.locator(".reason")).to_contain_text("signed in as collector")
    shot(page, "07-collector-refused")

    page.goto(f"{site.url}/cases/{site.case_id}")
    expect(page.get_by_role("form", name="Legal hold")).to_have_count(0)
    expect(page.locator(".downloads")).to_have_count(0)  # reports are for legal/auditors
    # A hand-made form post (valid session, valid CSRF token) is refused by the server too.
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    status = page.evaluate(
        """async ([url, csrf]) => {
            const r = await fetch(url, {method: 'POST', body: new URLSearchParams(
                {csrf, action: 'place', reason: 'sneaky'})});
            return r.status; }""",
        [f"/cases/{site.case_id}/hold", csrf],
    )
    assert status == 403
    with site.live.client("legal") as c:
        assert c.get(f"/v1/cases/{site.case_id}").json()["legal_hold"] is False


def test_forged_form_without_csrf_token_is_refused(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: 'POST', body: new URLSearchParams(
            {action: 'place', reason: 'forged'})})).status""",
        f"/cases/{site.other_case}/hold",
    )
    assert status == 403
    with site.live.client("legal") as c:
        assert c.get(f"/v1/cases/{site.other_case}").json()["legal_hold"] is False


def test_timeline_page_filters_and_exports(page: Page, site: Site) -> None:
    sign_in(page, site, "auditor")
    page.goto(f"{site.url}/cases/{site.case_id}/timeline")
    all_count = page.locator("ol.timeline > li").count()
    assert all_count >= 12
    page.check("input[name=category][value=containment]")
    page.click("form.filters button[type=submit]")
    entries = page.locator("ol.timeline > li")
    expect(entries).to_have_count(2)
    page.select_option("#actor", "legal")
    page.uncheck("input[name=category][value=containment]")
    page.check("input[name=category][value=note]")
    page.click("form.filters button[type=submit]")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("Insurer informed")
    page.goto(f"{site.url}/cases/{site.case_id}/timeline?q=winpmem")
    expect(entries).to_have_count(1)
    shot(page, "08-timeline")
    with page.expect_download() as dl:
        page.get_by_role("link", name="Export these as CSV").click()
    lines = Path(dl.value.path()).read_text().splitlines()
    assert lines[0].startswith("index,occurred_at,at,category,type") and len(lines) == 2
    assert "fs01-memory.raw" in lines[1]


def test_ledger_page_checks_consistency_with_last_visit(page: Page, site: Site) -> None:
    sign_in(page, site, "auditor")
    page.goto(f"{site.url}/ledger")
    status = page.locator("#consistency")
    expect(status).to_have_attribute("data-state", "info")
    expect(status).to_contain_text("First visit from this browser")
    expect(page.locator("#tsa-h + table")).to_contain_text("UTC")
    first = int(status.get_attribute("data-size") or 0)
    with site.live.client("collector") as c:  # the log grows between visits
        r = c.post(f"/v1/cases/{site.other_case}/notes", json={"text": "more"})
        assert r.status_code == 201
    page.reload()
    expect(status).to_have_attribute("data-state", "ok")
    expect(status).to_contain_text("Consistent with what you saw last time")
    expect(status).to_contain_text(f"{first} → {first + 1} events")
    expect(status).to_contain_text("proof checked in this browser")
    shot(page, "09-ledger")

    # A browser that remembers another history must be told.
    page.evaluate(
        """([origin, size]) => localStorage.setItem('locard.checkpoint.' + origin,
             JSON.stringify({size: String(size), root: 'ab'.repeat(32)}))""",
        [status.get_attribute("data-origin"), first],
    )
    page.reload()
    expect(status).to_have_attribute("data-state", "bad")
    expect(status).to_contain_text("NOT consistent")
    page.evaluate(
        """(origin) => localStorage.setItem('locard.checkpoint.' + origin,
             JSON.stringify({size: '999999', root: 'ab'.repeat(32)}))""",
        status.get_attribute("data-origin"),
    )
    page.reload()
    expect(status).to_contain_text("NOT consistent: the log has")
    assert page.errors == []  # type: ignore[attr-defined]


def test_metrics_page_shows_charts(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics").click()
    for chart in ("chart-mtta", "chart-mttc", "chart-declared"):
        svg = page.locator(f"svg#{chart}")
        expect(svg).to_have_attribute("role", "img")
        expect(svg.locator("title")).to_have_count(1)
    expect(page.locator("svg#chart-mtta")).to_contain_text("9 min / 15 min")
    expect(page.locator("svg#chart-mttc")).to_contain_text("1 h 25 min / 4 h 00 min")
    overdue = page.locator("#od-h ~ .scroll table")
    expect(overdue).to_contain_text("Phishing wave")  # P3 never acknowledged for > 8 h
    expect(overdue).to_contain_text("acknowledge")
    shot(page, "10-metrics")
    with site.live.client("legal") as c:
        m = c.get("/v1/metrics").json()
    assert m["per_severity"][0]["mtta_seconds"] == 9 * 60.0


def test_legal_overview(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Legal & privacy").click()
    table = page.locator("#n-h ~ .scroll table")
    row = table.locator("tr", has_text=site.case_id)
    expect(row).to_contain_text("due")  # declared two days ago: 72 h not yet up
    expect(row.locator(".badge")).to_have_text("due")
    shot(page, "11-legal")


def test_keyboard_only_sign_in_and_skip_link(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/signin")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("a.brand")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#token")).to_be_focused()
    page.keyboard.type(site.live.tokens["auditor"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/cases")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Skip to content"
    expect(page.locator("main")).to_be_focused()
    # Every focusable control on the case page is reachable and visibly focused.
    page.goto(f"{site.url}/cases/{site.case_id}")
    page.focus("a.skip")
    for _ in range(8):
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", ""), page.evaluate("document.activeElement.outerHTML")


def test_error_pages_are_clear(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    response = page.goto(f"{site.url}/cases/IR-1999-9999")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_contain_text("Not found")
    expect(page.locator(".reason")).to_contain_text("no case 'IR-1999-9999'")
    shot(page, "12-error-404")
    response = page.goto(f"{site.url}/no/such/page")
    assert response is not None and response.status == 404
    expect(page.locator(".reason")).to_contain_text("there is no page at /no/such/page")
    response = page.goto(f"{site.url}/cases?severity=P9")
    assert response is not None and response.status == 400
    expect(page.locator(".reason")).to_contain_text("unknown severity")


def test_sign_out(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    (copied,) = [c["value"] for c in page.context.cookies() if c["name"] == "locard_session"]
    with site.live.client() as c:
        jar = {"Cookie": f"locard_session={copied}"}
        assert c.get("/v1/cases", headers=jar).status_code == 200
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{site.url}/signin?done=signed_out")
        expect(page.get_by_role("status")).to_have_text("You are signed out.")
        page.goto(f"{site.url}/cases")
        expect(page).to_have_url(re.compile(r"/signin\?next="))
        # Ended on the server: a copy of the cookie taken before signing out is refused.
        assert c.get("/v1/cases", headers=jar).status_code == 401


def test_rehash_stored_bytes_from_the_artifact_page(page: Page, site: Site) -> None:
    sign_in(page, site, "auditor")
    page.goto(f"{site.url}/artifacts/{site.artifact_id}")
    checklist = page.locator("ul.checklist")
    expect(checklist.locator("li.chk-info", has_text="content hash")).to_be_visible()
    page.fill("#rehash-reason", "quarterly integrity check")
    with page.expect_response(re.compile(r"/verify$")) as posted:
        page.get_by_role("button", name="Re-hash stored bytes now").click()
    # Post/redirect/get: a reload shows the page again, it does not read the evidence again.
    assert posted.value.status == 303
    expect(page).to_have_url(re.compile(rf"/artifacts/{site.artifact_id}\?leaf=\d+&done=rehashed$"))
    flash = page.locator(".flash")
    expect(flash).to_contain_text("re-read and re-hashed")
    expect(flash).to_contain_text(site.artifact_sha256)
    expect(flash).to_contain_text("That read is leaf #")
    expect(checklist.locator("li.chk-fail")).to_have_count(0)
    last = page.locator("ol.chain > li").last
    expect(last).to_contain_text("access")
    expect(last).to_contain_text("quarterly integrity check")
    shot(page, "05-artifact-rehashed")
    events = page.locator("ol.chain > li").count()
    page.reload()
    expect(page.locator(".flash")).to_contain_text("re-read and re-hashed")
    expect(page.locator("ol.chain > li")).to_have_count(events)
    assert page.errors == []  # type: ignore[attr-defined]
