"""A bundle whose event is dated after the token on its checkpoint fails, naming the event.

The forgery is made by the vault itself with its ledger clock moved two years ahead for one
annotation: every signature, proof and token in the bundle is genuine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from custody.timestamps import HttpTSA
from tests.bundles.conftest import cli, export_api, pinned_policy, trust
from tests.support.live_server import LiveVault, free_port
from verify.bundle import verify_bundle
from verify.errors import EventAfterTimestamp, TimestampError

TWO_YEARS = timedelta(days=730)


def _annotate(live: LiveVault, artifact: str, text: str) -> int:
    with live.client("collector") as c:
        r = c.post(f"/v1/artifacts/{artifact}/annotations", json={"text": text})
        assert r.status_code == 201, r.text
        return int(r.json()["receipt"]["leaf_index"])


def _upload(live: LiveVault, case_id: str) -> str:
    with live.client("collector") as c:
        r = c.post(
            f"/v1/cases/{case_id}/artifacts", params={"file_name": "a.log"}, content=b"log\n" * 9
        )
        assert r.status_code == 201, r.text
        return str(r.json()["artifact"]["id"])


def test_genuine_bundle_confirms_every_event_time(
    live: LiveVault, case_id: str, tmp_path: Path
) -> None:
    _annotate(live, _upload(live, case_id), "seen")
    report = verify_bundle(export_api(live, case_id, tmp_path / "b.zip"), pinned_policy(live))
    assert report.ok, report.to_json()
    times = next(c for c in report.checks if c.name == "event times")
    assert "0 unconfirmed" in times.detail


def test_event_two_years_after_its_token_fails(
    live: LiveVault, case_id: str, tmp_path: Path
) -> None:
    artifact = _upload(live, case_id)
    ledger = live.vault.ledger
    honest = ledger.clock
    ledger.clock = lambda: datetime.now(UTC) + TWO_YEARS
    try:
        forged = _annotate(live, artifact, "backdated? no: postdated")
    finally:
        ledger.clock = honest
    bundle = export_api(live, case_id, tmp_path / "forged.zip")

    report = verify_bundle(bundle, pinned_policy(live))
    failed = report.first_failure
    assert failed is not None, report.to_json()
    assert isinstance(failed.error, EventAfterTimestamp), report.to_json()
    assert failed.name == "event times" and failed.error.subject == f"event {forged}"
    assert "729 days" in failed.detail or "730 days" in failed.detail
    assert [c.name for c in report.checks if not c.ok] == ["event times"]

    key, root = trust(live, tmp_path)
    r = cli("verify", str(bundle), "--trusted-key", str(key), "--trusted-tsa-ca", str(root))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "EventAfterTimestamp" in r.stdout and f"event {forged}" in r.stdout
    r = cli(
        "verify", str(bundle), "--json", "--trusted-key", str(key), "--trusted-tsa-ca", str(root)
    )
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["ok"] is False
    checks = doc["reports"][0]["checks"]
    assert [c["error"] for c in checks if not c["ok"]] == ["EventAfterTimestamp"]


def test_events_under_a_pending_token_are_unconfirmed(
    live: LiveVault, case_id: str, tmp_path: Path
) -> None:
    """The TSA is down when the export is sealed: its checkpoint's token is still pending."""
    _annotate(live, _upload(live, case_id), "before the outage")
    ledger = live.vault.ledger
    working = ledger.authorities
    ledger.authorities = [HttpTSA("down", f"http://127.0.0.1:{free_port()}/", [b"x"], timeout=2)]
    try:
        bundle = export_api(live, case_id, tmp_path / "pending.zip", content=False)
    finally:
        ledger.authorities = working
    report = verify_bundle(bundle, pinned_policy(live))
    failed = report.first_failure
    assert failed is not None and failed.name == "timestamps", report.to_json()
    assert isinstance(failed.error, TimestampError) and "pending" in failed.detail
    times = next(c for c in report.checks if c.name == "event times")
    assert times.ok and "1 unconfirmed" in times.detail, times.detail
    assert any("unconfirmed time" in w for w in report.warnings), report.warnings
