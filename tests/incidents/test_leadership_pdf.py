"""The leadership metrics PDF: its text (read back with pdftotext) holds the figures the
JSON states, over the cases the caller may read; bad periods are refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.incidents.events import T0, FixedClock
from tests.support.live_server import LiveVault, live_vault, make_settings


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveVault]:
    settings = make_settings(tmp_path / "vault", f"sqlite:///{tmp_path / 'locard.db'}")
    with live_vault(settings) as lv:
        lv.vault.ledger.clock = FixedClock(T0)
        yield lv


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "metrics.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True, text=True
    )
    return " ".join(out.stdout.split())


def test_pdf_holds_the_figures(live: LiveVault, tmp_path: Path) -> None:
    clock = live.vault.ledger.clock
    assert isinstance(clock, FixedClock)
    with live.client("collector") as c:
        case = _ok(
            c.post(
                "/v1/cases",
                json={
                    "title": "Payroll mailbox takeover",
                    "severity": "P2",
                    "notification_required": True,
                },
            ),
            201,
        )["case"]["id"]
        _ok(
            c.post(
                f"/v1/cases/{case}/assessment",
                json={
                    "first_activity_at": (T0 - timedelta(hours=30)).isoformat(),
                    "detected_at": (T0 - timedelta(hours=2)).isoformat(),
                    "root_cause": "phished VPN credentials",
                },
            ),
            201,
        )
        clock.advance(hours=8)
        _ok(c.patch(f"/v1/cases/{case}", json={"status": "recovered"}))
        clock.advance(days=4)
        m = _ok(c.get("/v1/metrics/leadership"))
        r = c.get("/v1/metrics/leadership.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert "leadership-metrics.pdf" in r.headers["content-disposition"]
    p2 = m["per_severity"][1]
    assert (p2["key"], p2["mttd_seconds"], p2["mttr_seconds"]) == ("P2", 28 * 3600, 8 * 3600)
    text = _text(r.content, tmp_path)
    assert "Incident metrics for leadership" in text
    # the P2 row: declared 1, MTTD 28 h, MTTR 8 h
    assert "P2 1 1 d 4 h 8 h 00 min" in text
    assert f"{m['per_month'][0]['key']} 1 1 d 4 h 8 h 00 min" in text
    assert "Missed notification window" in text and case in text
    assert "Payroll mailbox takeover" in text
    live.add_user("outsider", "collector")
    with live.client("outsider") as o:  # only the cases it may read
        theirs = o.get("/v1/metrics/leadership.pdf")
    assert theirs.status_code == 200
    other = _text(theirs.content, tmp_path)
    assert "Payroll mailbox takeover" not in other and case not in other
    assert "P2 0 —" in other


def test_pdf_refuses_anonymous_callers_and_bad_periods(live: LiveVault) -> None:
    size = live.vault.ledger.size()
    with live.client(None) as c:
        assert c.get("/v1/metrics/leadership.pdf").status_code == 401
    with live.client("auditor") as c:
        for params in ({"days": 0}, {"days": 99999}, {"since": "yesterday"}):
            assert c.get("/v1/metrics/leadership.pdf", params=params).status_code == 422
    assert live.vault.ledger.size() == size
