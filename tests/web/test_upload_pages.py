"""Browser upload: a collector opens a case and uploads a 200 MiB file from the page over
the resumable protocol (hashed in the page, sent in parts with progress, re-hashed by the
vault), downloads the receipt and verifies it offline; an upload cut off by a reload
resumes without sending finished parts again. Server memory stays flat meanwhile."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, Route, expect
from sqlmodel import Session, select

from app.uploads.models import UploadSession
from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.web.conftest import shot

MIB = 1 << 20


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    root = tmp_path_factory.mktemp("upload-web")
    with live_vault(make_settings(root / "vault", f"sqlite:///{root / 'locard.db'}")) as lv:
        yield lv


def evidence(path: Path, size: int) -> Path:
    """A sparse file with random blocks spread through it: cheap to make, and any byte
    sent twice, dropped or misplaced changes its hash."""
    with path.open("wb") as fh:
        fh.truncate(size)
        for at in range(0, size, 7 * MIB + 4093):
            fh.seek(at)
            fh.write(os.urandom(64 * 1024))
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(MIB):
            h.update(chunk)
    return h.hexdigest()


def sign_in(page: Page, live: LiveVault, role: str) -> None:
    page.goto(f"{live.url}/signin")
    page.fill("#token", live.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/cases")


def pins(live: LiveVault, tmp: Path) -> list[str]:
    key = tmp / "vault.vkey"
    key.write_text(live.vault.ledger.signer.vkey() + "\n")
    root = live.settings.keys_dir / "tsa" / "tsa-root.pem"
    return ["--trusted-key", str(key), "--trusted-tsa-ca", str(root)]


def overflow(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_collector_opens_case_uploads_200_mib_and_verifies_the_receipt(
    page: Page, live: LiveVault, tmp_path: Path
) -> None:
    size = 200 * MIB
    path = evidence(tmp_path / "fs01-disk.img", size)
    sign_in(page, live, "collector")
    page.get_by_role("link", name="Open a case").click()
    form = page.get_by_role("form", name="Open a case")
    form.get_by_label("Title").fill("Ransomware on FS01")
    form.get_by_label("Severity").select_option("P1")
    form.get_by_label("personal data involved").check()
    form.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("status").first).to_contain_text("Case opened")
    case_id = page.locator("h1 .cid").inner_text()
    assert page.url.endswith(f"/cases/{case_id}/upload?done=case_created")

    upload = page.get_by_role("form", name="Upload evidence")
    upload.get_by_label("File", exact=True).set_input_files(str(path))
    upload.get_by_label("Collected from (host)").fill("fs01.corp.example")
    upload.get_by_label("Collection tool").fill("dd 9.4")
    tracemalloc.start()
    try:
        upload.get_by_role("button", name="Upload").click()
        # progress is shown while the parts go out, not only at the end
        page.wait_for_function(
            """() => { const p = document.querySelector('#up-progress');
                       return document.querySelector('#upload-form').dataset.phase === 'uploading'
                              && p.value > 0 && p.value < p.max; }""",
            timeout=180_000,
        )
        expect(page.locator("#up-status")).to_contain_text("of 200.0 MiB")
        shot(page, "29-upload-progress-1366")
        done = page.locator("#upload-form")
        expect(done).to_have_attribute("data-phase", "done", timeout=300_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the server (this process) streamed 200 MiB through 1 MiB buffers
    print(f"server-side Python peak during the 200 MiB browser upload: {peak / MIB:.1f} MiB")
    assert peak < 32 * MIB, f"peak {peak / MIB:.1f} MiB"
    expect(page.locator("#up-status")).to_contain_text("Stored and sealed: fs01-disk.img")
    shot(page, "30-upload-1366")

    with page.expect_download() as dl:
        page.get_by_role("link", name="Download receipt").click()
    assert dl.value.suggested_filename == "fs01-disk.img.receipt.json"
    receipt = tmp_path / dl.value.suggested_filename
    dl.value.save_as(receipt)
    doc = json.loads(receipt.read_text())
    assert doc["event"]["type"] == "ingest" and doc["event"]["case"] == case_id
    run = subprocess.run(
        [sys.executable, "-m", "cli.main", "verify", str(receipt), "--artifact", str(path)]
        + pins(live, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "VERIFIED" in run.stdout

    with live.client("auditor") as c:
        art = c.get(f"/v1/artifacts/{doc['event']['item']}").json()
    assert art["sha256"] == sha256_of(path) and art["size"] == size
    assert art["source_host"] == "fs01.corp.example"

    page.set_viewport_size({"width": 390, "height": 844})
    assert overflow(page) <= 0
    shot(page, "31-upload-390")
    page.goto(f"{live.url}/cases/{case_id}")
    expect(page.locator("section", has=page.locator("#art-h"))).to_contain_text("fs01-disk.img")
    assert page.errors == []  # type: ignore[attr-defined]


def test_interrupted_upload_resumes_without_resending_finished_parts(
    page: Page, live: LiveVault, tmp_path: Path
) -> None:
    with live.client("collector") as c:
        case_id = c.post("/v1/cases", json={"title": "BEC", "severity": "P2"}).json()["case"]["id"]
    size = 40 * MIB + 12345
    path = evidence(tmp_path / "mailbox.pst", size)
    cut_at = 16 * MIB  # two 8 MiB parts acknowledged, then the link drops
    dropped: list[int] = []

    def drop_late_parts(route: Route, request: Request) -> None:
        offset = int(request.headers.get("upload-offset", "0"))
        if request.method == "PATCH" and offset >= cut_at:
            dropped.append(offset)
            route.abort("connectionreset")
        else:
            route.continue_()

    sign_in(page, live, "collector")
    page.goto(f"{live.url}/cases/{case_id}/upload")
    page.route("**/v1/uploads/*", drop_late_parts)
    page.get_by_label("File", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    for _ in range(1200):  # hashing 40 MiB in the page comes first
        if dropped:
            break
        page.wait_for_timeout(100)  # lets the route handler run
    assert dropped and set(dropped) == {cut_at}
    page.unroute("**/v1/uploads/*")
    page.reload()  # the collector closes the tab mid-way, and comes back

    expect(page.locator("#up-resumable")).to_contain_text("Unfinished: mailbox.pst")
    sent: list[int] = []
    page.on(
        "request",
        lambda r: sent.append(int(r.headers["upload-offset"])) if r.method == "PATCH" else None,
    )
    page.get_by_label("File", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-form")).to_have_attribute("data-phase", "done", timeout=120_000)
    expect(page.locator("#upload-form")).to_have_attribute("data-resumed-at", str(cut_at))
    assert sent == [16 * MIB, 24 * MIB, 32 * MIB, 40 * MIB]

    with Session(live.vault.engine) as s:
        [row] = s.exec(select(UploadSession).where(UploadSession.case_id == case_id)).all()
    assert row.state == "completed" and row.upload_offset == size
    assert row.bytes_received == size  # not one finished byte went twice
    with live.client("collector") as c:
        arts = c.get(f"/v1/cases/{case_id}/artifacts").json()
    assert [a["sha256"] for a in arts] == [sha256_of(path)]
    expect(page.locator("#up-resumable")).to_be_empty()
    assert page.errors == []  # type: ignore[attr-defined]
