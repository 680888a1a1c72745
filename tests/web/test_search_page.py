"""Legal counsel looks evidence up by its hash, and by words, in headless Chromium."""

from __future__ import annotations

import hashlib

from playwright.sync_api import Page

from tests.web.conftest import Site, shot, sign_in


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_legal_finds_the_artifact_by_its_hash(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    page.wait_for_url(f"{site.url}/search")
    page.get_by_label("Words, or a SHA-256, SHA-1 or MD5 hash").fill(site.artifact_sha256)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"{site.url}/search?q=*")
    hits = page.locator("section[aria-labelledby=h-hash]")
    assert "Artifacts with this SHA-256" in hits.locator("h2").inner_text()
    assert hits.get_by_role("link", name="fs01-memory.raw").count() == 1
    assert site.artifact_sha256 in hits.inner_text()
    shot(page, "search-hash-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    assert _fits(page)
    shot(page, "search-hash-390")
    page.set_viewport_size({"width": 1366, "height": 860})
    hits.get_by_role("link", name="fs01-memory.raw").click()
    page.wait_for_url(f"{site.url}/artifacts/{site.artifact_id}")
    assert page.errors == []  # type: ignore[attr-defined]


def test_md5_and_words_find_it_too_and_bad_queries_are_told(page: Page, site: Site) -> None:
    sign_in(page, site, "legal")
    # the MD5 of the bytes the site seeded (see conftest._seed)
    md5 = hashlib.md5(b"MZ\x90\x00" + bytes(range(256)) * 400).hexdigest()
    page.goto(f"{site.url}/search?q={md5}")
    assert "Artifacts with this MD5" in page.locator("#h-hash").inner_text()
    assert page.get_by_role("link", name="fs01-memory.raw").count() == 1
    page.goto(f"{site.url}/search?q=insurer")
    matches = page.locator("section[aria-labelledby=h-hits]")
    assert "Note: Insurer informed" in matches.inner_text()
    response = page.goto(f"{site.url}/search?q=%22%3A*")
    assert response is not None and response.status == 400
    assert "at least one word" in page.get_by_role("alert").inner_text()
