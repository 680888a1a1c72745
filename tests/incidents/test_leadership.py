"""Leadership metrics: MTTD from told first activity to detection, MTTR from declaration
to recovery, per severity and month, and the lagging indicators; over HTTP with the ledger
on a fixed clock, as JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx

from app.incidents.leadership import leadership
from app.incidents.metrics import case_facts
from app.incidents.policy import IncidentPolicy
from tests.incidents.events import T0, FixedClock, at, created, event, updated
from tests.support.live_server import LiveVault


def _assessed(when: Any, **body: Any) -> Any:
    full = {"first_activity_at": None, "detected_at": None, "root_cause": None, **body}
    return event("case.assessed", when, full)


def test_mttd_mttr_and_repeat_causes_from_events() -> None:
    a = case_facts(
        "IR-2026-0001",
        [
            created(T0),
            _assessed(at(hours=1), first_activity_at=at(hours=-10).isoformat(), root_cause="VPN"),
            updated(at(hours=5), status=("new", "recovered")),
        ],
    )
    b = case_facts(
        "IR-2026-0002",
        [
            created(at(days=40), severity="P2"),
            _assessed(
                at(days=40),
                first_activity_at=at(days=39).isoformat(),
                detected_at=at(days=39, hours=6).isoformat(),
                root_cause="  vpn ",
            ),
        ],
    )
    m = leadership(
        [a, b], [], IncidentPolicy(), since=at(days=-1), until=at(days=60), now=at(days=59)
    )
    p1, p2 = m.per_severity[0], m.per_severity[1]
    assert p1.mttd == timedelta(hours=10)  # detection untold: the declaration
    assert p1.mttr == timedelta(hours=5) and p1.recovered == 1
    assert p2.mttd == timedelta(hours=6) and p2.mttr is None
    assert [g.key for g in m.per_month] == ["2026-03", "2026-04"]
    assert [(r.root_cause, r.cases) for r in m.repeats] == [
        ("VPN", ("IR-2026-0001", "IR-2026-0002"))
    ]


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def test_leadership_metrics_over_http(live: LiveVault, clock: FixedClock) -> None:
    c = live.client("collector")
    case = _ok(
        c.post(
            "/v1/cases",
            json={"title": "=HYPERLINK(1)", "severity": "P1", "notification_required": True},
        ),
        201,
    )["case"]["id"]
    size = live.vault.ledger.size()
    for body, status in [
        ({"first_activity_at": (T0 + timedelta(hours=1)).isoformat()}, 400),  # future
        (
            {"first_activity_at": T0.isoformat(), "detected_at": (T0 - timedelta(1)).isoformat()},
            400,
        ),
        ({"first_activity_at": "2026-03-01T00:00:00"}, 422),  # no zone
        ({"root_cause": "a\u202eb"}, 422),
        ({"extra": 1}, 422),
    ]:
        assert c.post(f"/v1/cases/{case}/assessment", json=body).status_code == status, body
    with live.client("auditor") as au:
        assert au.post(f"/v1/cases/{case}/assessment", json={}).status_code == 403
    assert live.vault.ledger.size() == size
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
    clock.advance(days=4)  # the 72 h notification window has passed unmade
    m = _ok(c.get("/v1/metrics/leadership"))
    p1 = m["per_severity"][0]
    assert p1["mttd_seconds"] == 28 * 3600 and p1["mttr_seconds"] == 8 * 3600
    assert m["per_month"][0]["key"] == "2026-03"
    assert [n["case"] for n in m["lagging"]["missed_notifications"]] == [case]
    with live.client("admin") as a:
        assert _ok(a.get("/v1/metrics/leadership"))["per_severity"][0]["declared"] == 1
    live.add_user("outsider", "collector")
    with live.client("outsider") as o:  # only the cases it may read
        theirs = _ok(o.get("/v1/metrics/leadership"))
        assert theirs["per_severity"][0]["declared"] == 0
        assert theirs["lagging"]["missed_notifications"] == []
        assert "=HYPERLINK" not in o.get("/v1/metrics/leadership.csv").text
    rows = list(csv.reader(io.StringIO(c.get("/v1/metrics/leadership.csv").text)))
    assert rows[0] == ["section", "key", "metric", "value", "case"]
    assert ["severity", "P1", "mttd_seconds", "100800.0", ""] in rows
    (missed,) = [r for r in rows if r[0] == "missed_notification"]
    assert missed[1] == "'=HYPERLINK(1)" and missed[4] == case  # no formula in a spreadsheet
    assert c.get("/v1/metrics/leadership", params={"days": 0}).status_code == 422
    c.close()
