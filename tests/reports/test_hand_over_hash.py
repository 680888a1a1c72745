"""Each hand-over re-reads and re-hashes the stored bytes: the transfer event carries the
hash verified at that step, and custody does not pass on bytes that no longer match."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.support.live_server import LiveVault, live_vault, make_settings
from verify.events import chain_key, decode_event

DATA = b"disk image " * 5000


def item_events(live: LiveVault, case_id: str, item: str) -> list[dict[str, object]]:
    return [
        decode_event(e.canonical).as_json()
        for e in live.vault.ledger.chain(chain_key(case_id, item))
    ]


def test_hand_over_carries_the_rehashed_sha256_and_refuses_damaged_bytes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", f"sqlite:///{tmp_path / 'locard.db'}")
    with live_vault(settings) as live, live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "hand-over", "severity": "P2"})
        case_id = r.json()["case"]["id"]
        assert (
            c.post(f"/v1/cases/{case_id}/members", json={"principal": "legal"}).status_code == 201
        )
        ids = []
        for name in ("a.img", "b.img"):
            r = c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": name}, content=DATA)
            assert r.status_code == 201, r.text
            ids.append(r.json()["artifact"]["id"])
        r = c.post(f"/v1/artifacts/{ids[0]}/transfers", json={"to": "legal", "reason": "review"})
        assert r.status_code == 201, r.text
        [ev] = [e for e in item_events(live, case_id, ids[0]) if e["type"] == "transfer"]
        body = ev["body"]
        assert isinstance(body, dict) and body["v"] == 2
        assert body["sha256"] == hashlib.sha256(DATA).hexdigest()
        # Damage the second item's stored bytes (the store is write-once; root is not).
        objects = sorted(p for p in (settings.store_dir / "objects").rglob("*") if p.is_file())
        [victim] = [p for p in objects if p.read_bytes() == DATA][-1:]
        victim.chmod(0o644)
        victim.write_bytes(DATA[:-1] + b"X")
        before = len(item_events(live, case_id, ids[1]))
        r = c.post(f"/v1/artifacts/{ids[1]}/transfers", json={"to": "legal", "reason": "review"})
        assert r.status_code == 500 and r.json()["error"] == "evidence_damaged", r.text
        assert len(item_events(live, case_id, ids[1])) == before  # nothing sealed
