"""Every page, audited in Chromium: no sideways scrolling at 390 px, no serious or critical
axe-core violation at 1366 and 390 px, and a screenshot of each at both widths
(test-artifacts/screenshots/audit-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.web.axe_audit import audit, install_axe
from tests.web.conftest import SCREENSHOTS, Site, sign_in

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 860}


@dataclass(frozen=True)
class Audited:
    site: Site
    asset_id: str


@pytest.fixture(scope="module")
def axe_js() -> Path:
    return install_axe()


@pytest.fixture(scope="module")
def audited(site: Site) -> Audited:
    """The shared seeded vault, plus an asset so that its page can be audited, and the long
    unbroken names real cases have (FQDNs, URLs, account names) that push a phone's
    layout sideways."""
    with site.live.client("collector") as c:
        r = c.post(
            f"/v1/cases/{site.case_id}/assets",
            json={
                "kind": "account",
                "name": LONG_NAME,
                "owner": "Finance IT",
                "criticality": "high",
            },
        )
        assert r.status_code < 300, r.text
        asset_id = quote(r.json()["asset"]["id"], safe="")
        r = c.post(
            f"/v1/cases/{site.case_id}/actions",
            json={"action": "disable_account", "target": LONG_NAME, "outcome": "succeeded"},
        )
        assert r.status_code < 300, r.text
        r = c.post(f"/v1/cases/{site.case_id}/notes", json={"text": f"See {LONG_URL}"})
        assert r.status_code < 300, r.text
    return Audited(site, asset_id)


LONG_NAME = "svc-backup-replication-finance-fileserver-01@corp-finance.example.com"
LONG_URL = (
    "https://intranet.corp.example/incidents/IR-2026-0001/evidence/fs01-memory-image-2026-12-07"
)


#: (name, role or None for signed out, path template, expected HTTP status)
PAGES = [
    ("signin", None, "/signin", 200),
    ("cases", "legal", "/cases", 200),
    ("case-collector", "collector", "/cases/{case}", 200),
    ("case-legal", "legal", "/cases/{case}", 200),
    ("timeline", "legal", "/cases/{case}/timeline", 200),
    ("artifact", "legal", "/artifacts/{artifact}", 200),
    ("ledger", "auditor", "/ledger", 200),
    ("metrics", "admin", "/metrics", 200),
    ("legal", "legal", "/legal", 200),
    ("hold", "legal", "/cases/{case}/hold", 200),
    ("action-items", "collector", "/action-items", 200),
    ("asset", "collector", "/cases/{case}/assets/{asset}", 200),
    ("communication", "collector", "/cases/{case}/communications/executive", 200),
    ("search", "legal", "/search?q=memory", 200),
    ("new-case", "collector", "/cases/new", 200),
    ("upload", "collector", "/cases/{case}/upload", 200),
    ("error-404", "legal", "/no-such-page", 404),
    ("error-403", "collector", "/ledger", 403),
]


@pytest.fixture
def audit_page(browser: Browser) -> Iterator[Page]:
    # axe is injected as a script: the pages' CSP (script-src 'self') would refuse it.
    ctx = browser.new_context(viewport=LAPTOP, locale="en-GB", bypass_csp=True)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


@pytest.mark.parametrize(("name", "role", "path", "status"), PAGES, ids=[p[0] for p in PAGES])
def test_page_fits_a_phone_and_passes_axe(
    audit_page: Page,
    audited: Audited,
    axe_js: Path,
    name: str,
    role: str | None,
    path: str,
    status: int,
) -> None:
    site = audited.site
    if role is not None:
        sign_in(audit_page, site, role)
    url = site.url + path.format(
        case=site.case_id, artifact=site.artifact_id, asset=audited.asset_id
    )
    response = audit_page.goto(url)
    assert response is not None and response.status == status
    findings = {}
    for label, viewport in (("1366", LAPTOP), ("390", PHONE)):
        audit_page.set_viewport_size(viewport)
        audit_page.screenshot(path=str(SCREENSHOTS / f"audit-{name}-{label}.png"), full_page=True)
        if viewport is PHONE:
            wide = audit_page.evaluate(
                "() => [document.scrollingElement.scrollWidth,"
                " document.scrollingElement.clientWidth]"
            )
            assert wide[0] <= wide[1], f"{name} scrolls sideways at 390 px: {wide}"
        findings[label] = audit(audit_page, axe_js)
    assert findings == {"1366": [], "390": []}
