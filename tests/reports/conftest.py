"""A running vault holding one case with every kind of custody fact a report must state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.support.live_server import LiveVault


@dataclass
class Scenario:
    case_id: str
    #: artifact id -> sha256
    artifacts: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    transfer_reason: str = ""
    hold_reason: str = ""
    containment_target: str = ""
    containment_ticket: str = ""
    #: the first item's description as a custody form records it (upload metadata)
    described: dict[str, str] = field(default_factory=dict)


#: what the collector tells about the first item beyond its bytes (ingest v3)
DESCRIBED = {
    "device_make": "Dell",
    "device_model": "PowerEdge R740",
    "device_serial": "SN-7Q2K9X3",
    "seals": "SEAL-000417, TAG-2026-0099",
    "collected_by": "Dana Ortiz",
    "collection_place": "Server room B2, Acme HQ",
    "tool_version": "4.0.0",
}
MEMORY = b"MZ\x90\x00" + bytes(range(256)) * 400
EVTX = b"ElfFile\x00" + b"\x01\x02\x03" * 5000


def populate(live: LiveVault) -> Scenario:
    """A P1 ransomware case: two artifacts, reasoned accesses, a transfer to legal, an
    annotation, a containment action and a legal hold — every kind of fact a report lists."""
    with live.client("collector") as c:
        r = c.post(
            "/v1/cases",
            json={
                "title": "Ransomware on FS01",
                "severity": "P1",
                "description": "Encrypted shares on the file server; EDR alert 2026-11-20.",
            },
        )
        assert r.status_code == 201, r.text
        sc = Scenario(case_id=r.json()["case"]["id"])
        collected = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
        sc.described = {**DESCRIBED, "collected_at": collected}
        for name, data, host, told in (
            ("fs01-memory.raw", MEMORY, "fs01", sc.described),
            ("fs01-security.evtx", EVTX, "fs01", {}),
        ):
            r = c.post(
                f"/v1/cases/{sc.case_id}/artifacts",
                params={
                    "file_name": name,
                    "source_host": host,
                    "collection_tool": "winpmem 4.0",
                    "sha256": hashlib.sha256(data).hexdigest(),
                    **told,
                },
                content=data,
            )
            assert r.status_code == 201, r.text
            art = r.json()["artifact"]
            sc.artifacts[art["id"]] = art["sha256"]
            sc.files[art["id"]] = data
        first, second = list(sc.artifacts)
        sc.reasons = ["triage: YARA scan for the ransomware loader", "timeline of logons"]
        r = c.get(f"/v1/artifacts/{first}/content", params={"reason": sc.reasons[0]})
        assert r.status_code == 200, r.text
        r = c.get(
            f"/v1/artifacts/{second}/content",
            params={"reason": sc.reasons[1]},
            headers={"Range": "bytes=0-7"},
        )
        assert r.status_code == 206, r.text
        r = c.post(f"/v1/artifacts/{second}/annotations", json={"text": "4624 storm at 02:13"})
        assert r.status_code == 201, r.text
        sc.transfer_reason = "handover to counsel for the insurer's claim"
        r = c.post(f"/v1/cases/{sc.case_id}/members", json={"principal": "legal"})
        assert r.status_code == 201, r.text
        r = c.post(
            f"/v1/artifacts/{first}/transfers", json={"to": "legal", "reason": sc.transfer_reason}
        )
        assert r.status_code == 201, r.text
        sc.containment_target = "fs01.corp.example"
        sc.containment_ticket = "INC-4711"
        r = c.post(
            f"/v1/cases/{sc.case_id}/actions",
            json={
                "action": "isolate_host",
                "target": sc.containment_target,
                "outcome": "succeeded",
                "ticket": sc.containment_ticket,
                "details": "EDR network containment; SMB blocked",
            },
        )
        assert r.status_code == 201, r.text
    with live.client("legal") as legal:
        reason = "privilege review by Zoë Ångström"  # non-ASCII: fonts must embed it
        r = legal.get(f"/v1/artifacts/{first}/content", params={"reason": reason})
        assert r.status_code == 200, r.text
        sc.reasons.append(reason)
        sc.hold_reason = "litigation hold: Doe v. Acme Corp"
        r = legal.post(f"/v1/cases/{sc.case_id}/hold", json={"on": True, "reason": sc.hold_reason})
        assert r.status_code == 200, r.text
    return sc
