"""Browser tests: Debian's headless Chromium driven by Playwright against a live vault.

Playwright's own browser download is not used (and not possible offline): the suite
launches `/usr/bin/chromium` (apt package `chromium`, installed by scripts/services.sh).
Screenshots of the main pages go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.incidents.events import FixedClock
from tests.support.live_server import LiveVault, live_vault, make_settings

CHROMIUM = os.environ.get("LOCARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
#: a laptop screen: what responders and counsel actually use
VIEWPORT = {"width": 1366, "height": 860}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing (apt: chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Site:
    live: LiveVault
    case_id: str  # the worked example: evidence, custody, containment, review
    artifact_id: str
    artifact_sha256: str
    other_case: str  # a collector-owned case the legal tests do not touch
    quiet_case: str  # placed on hold by one test; others leave it alone

    @property
    def url(self) -> str:
        return self.live.url


def _seed(live: LiveVault, clock: FixedClock) -> Site:
    """A realistic case history, with event times spread out over the last days."""
    c = live.client("collector")
    legal = live.client("legal")

    def ok(r: httpx.Response) -> dict[str, Any]:
        assert r.status_code < 300, r.text
        out: dict[str, Any] = r.json()
        return out

    case = ok(
        c.post(
            "/v1/cases",
            json={
                "title": "Ransomware on FS01",
                "description": "Files on \\\\fs01\\finance encrypted; ransom note found at 08:12.",
                "severity": "P1",
                "personal_data": True,
                "notification_required": True,
            },
        )
    )["case"]["id"]
    clock.advance(minutes=9)
    ok(c.patch(f"/v1/cases/{case}", json={"status": "triaged"}))
    clock.advance(minutes=6)
    data = b"MZ\x90\x00" + bytes(range(256)) * 400
    art = ok(
        c.post(
            f"/v1/cases/{case}/artifacts",
            params={
                "file_name": "fs01-memory.raw",
                "source_host": "fs01.corp.example",
                "collection_tool": "winpmem 4.0",
                "collected_at": (clock.now - timedelta(minutes=3)).isoformat(),
            },
            content=data,
        )
    )["artifact"]
    clock.advance(minutes=20)
    ok(
        c.post(
            f"/v1/cases/{case}/actions",
            json={
                "action": "isolate_host",
                "target": "fs01.corp.example",
                "outcome": "succeeded",
                "ticket": "INC-4711",
            },
        )
    )
    ok(
        c.post(
            f"/v1/cases/{case}/actions",
            json={"action": "disable_account", "target": "svc-backup", "outcome": "succeeded"},
        )
    )
    clock.advance(minutes=50)
    ok(c.patch(f"/v1/cases/{case}", json={"status": "contained"}))
    clock.advance(hours=1)
    assert c.get(f"/v1/artifacts/{art['id']}/content", params={"reason": "triage"}).is_success
    ok(c.post(f"/v1/cases/{case}/members", json={"principal": "legal"}))
    ok(
        c.post(
            f"/v1/artifacts/{art['id']}/transfers",
            json={"to": "legal", "reason": "hand-over to counsel"},
        )
    )
    clock.advance(hours=2)
    ok(c.post(f"/v1/cases/{case}/notes", json={"kind": "decision", "text": "Restore from backup"}))
    ok(legal.post(f"/v1/cases/{case}/notes", json={"text": "Insurer informed"}))
    clock.advance(hours=20)
    ok(
        c.post(
            f"/v1/cases/{case}/reviews",
            json={
                "summary": "Backups worked; VPN lacked MFA.",
                "action_items": [
                    {"title": "Enforce MFA on VPN", "owner": "collector", "due": "2030-01-31"},
                    {"title": "Review EDR alert routing", "owner": "legal", "due": "2026-01-15"},
                ],
            },
        )
    )
    clock.advance(hours=3)
    other = ok(c.post("/v1/cases", json={"title": "Phishing wave", "severity": "P3"}))["case"]["id"]
    clock.advance(hours=2)
    quiet = ok(c.post("/v1/cases", json={"title": "Lost laptop", "severity": "P2"}))["case"]["id"]
    clock.advance(minutes=30)
    ok(c.patch(f"/v1/cases/{quiet}", json={"status": "closed"}))
    c.close()
    legal.close()
    return Site(live, case, art["id"], art["sha256"], other, quiet)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One vault per test module (SQLite), seeded with history ending about now."""
    root = tmp_path_factory.mktemp("web")
    with live_vault(make_settings(root / "vault", f"sqlite:///{root / 'locard.db'}")) as lv:
        real = lv.vault.ledger.clock
        clock = FixedClock(datetime.now(UTC) - timedelta(days=2))
        lv.vault.ledger.clock = clock
        try:
            seeded = _seed(lv, clock)
        finally:
            lv.vault.ledger.clock = real
        yield seeded


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-GB")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.errors = errors  # type: ignore[attr-defined]
    return p


def sign_in(page: Page, site: Site, role: str) -> None:
    """Through the sign-in form, as a person would."""
    page.goto(f"{site.url}/signin")
    page.fill("#token", site.live.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/cases")


def shot(page: Page, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
