"""A page on another port of the same host cannot write through `/v1` with the victim's
session cookie (issue 12).

127.0.0.1:<other port> is another origin but the same site as the vault, so Chromium
attaches the SameSite=Strict cookie to its requests. Before the fix the cookie held the
API token and `/v1` accepted it with no CSRF token and no Origin check: the auto-submitted
form below answered 201 and stored the attacker's bytes as evidence in the victim's name.
Now the vault answers 403 (csrf_refused) and stores nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, Response

from tests.web.conftest import Site, sign_in

_PARAMS = urlencode(
    {
        "file_name": "planted.bin",
        "source_host": "attacker",
        "collection_tool": "none",
        "collected_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
    }
)


def _pages(target: str) -> dict[str, bytes]:
    form = f"""<!doctype html><title>win a prize</title>
<form method="post" enctype="text/plain" action="{target}">
<input type="hidden" name="planted" value="evidence"></form>
<script>document.forms[0].submit()</script>"""
    fetch = f"""<!doctype html><title>win a prize</title>
<script>fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include",
  body: "planted evidence"}}).finally(() => {{ document.title = "sent"; }});</script>"""
    return {"/form.html": form.encode(), "/fetch.html": fetch.encode()}


@pytest.fixture
def attacker(site: Site) -> Iterator[str]:
    """A real web server on 127.0.0.1, another port: same site as the vault, other origin."""
    pages = _pages(f"{site.url}/v1/cases/{site.other_case}/artifacts?{_PARAMS}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _artifacts(site: Site) -> int:
    with site.live.client("collector") as c:
        return len(c.get(f"/v1/cases/{site.other_case}/artifacts").json())


def _is_upload(r: Response) -> bool:
    return r.request.method == "POST" and "/artifacts?" in r.url


def _attack(page: Page, site: Site, url: str) -> Response:
    sign_in(page, site, "collector")
    with page.expect_response(_is_upload) as answer:
        page.goto(url)
    return answer.value


def test_same_site_form_cannot_post_an_artifact(page: Page, site: Site, attacker: str) -> None:
    before = _artifacts(site)
    response = _attack(page, site, f"{attacker}/form.html")
    sent = response.request.all_headers()
    # The browser did attach the victim's cookie: only the vault's own check stops this.
    assert "locard_session=" in sent.get("cookie", "")
    assert sent.get("origin") == attacker
    assert response.status == 403
    assert response.json()["error"] == "csrf_refused"
    assert _artifacts(site) == before


def test_same_site_fetch_cannot_post_an_artifact(page: Page, site: Site, attacker: str) -> None:
    """An opaque (no-cors) fetch: its answer is hidden from the page and from Playwright's
    body API, but its status is not. Without the cookie it would be 401, so 403 is the
    session recognised and the write refused."""
    before = _artifacts(site)
    response = _attack(page, site, f"{attacker}/fetch.html")
    assert response.status == 403
    page.wait_for_function("document.title === 'sent'")
    assert _artifacts(site) == before


def test_the_vaults_own_page_can_post_with_the_csrf_token(page: Page, site: Site) -> None:
    """What a page of the vault may do with the API: send the token it was given."""
    sign_in(page, site, "collector")
    before = _artifacts(site)
    status = page.evaluate(
        """async (url) => {
            const csrf = document.querySelector("input[name=csrf]").value;
            const r = await fetch(url, {method: "POST", body: "field notes",
                                        headers: {"X-CSRF-Token": csrf}});
            return r.status; }""",
        f"/v1/cases/{site.other_case}/artifacts?{_PARAMS.replace('planted', 'notes')}",
    )
    assert status == 201
    assert _artifacts(site) == before + 1
