"""Leadership metrics: MTTD and MTTR per severity and per month, and lagging indicators.

Pure functions over incident facts (app/incidents/metrics.py) like MTTA and MTTC:
- MTTD: from the first malicious activity to its detection, both as told in the case's
  latest assessment (detection untold: the declaration); cases without a told first
  activity are not counted;
- MTTR: from declaration to the first status of `recovered` or later;
- repeat incidents: root causes (as assessed, compared without case and spacing) that more
  than one incident declared in the period shares;
- missed notification windows: a duty to notify whose deadline passed before the
  notification was made (or still has not been);
- open action items past due, across the cases the reader may see.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.incidents.action_items import OwnedItem
from app.incidents.metrics import (
    SEVERITIES,
    CaseFacts,
    _mean,
    notification_deadline,
    sla_deadlines,
)
from app.incidents.policy import IncidentPolicy
from app.incidents.timeline import _cell


def _secs(d: timedelta | None) -> float | None:
    return d.total_seconds() if d is not None else None


@dataclass(frozen=True)
class Group:
    key: str  # a severity or a month (YYYY-MM)
    declared: int
    detected: int
    recovered: int
    mttd: timedelta | None
    mttr: timedelta | None
    mtta: timedelta | None
    mttc: timedelta | None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "declared": self.declared,
            "detected": self.detected,
            "recovered": self.recovered,
            "mttd_seconds": _secs(self.mttd),
            "mttr_seconds": _secs(self.mttr),
            "mtta_seconds": _secs(self.mtta),
            "mttc_seconds": _secs(self.mttc),
        }


@dataclass(frozen=True)
class RepeatCause:
    root_cause: str
    cases: tuple[str, ...]


@dataclass(frozen=True)
class MissedNotification:
    case_id: str
    title: str
    due_at: datetime
    notified_at: datetime | None


@dataclass(frozen=True)
class Leadership:
    since: datetime
    until: datetime
    now: datetime
    per_severity: tuple[Group, ...]
    per_month: tuple[Group, ...]
    repeats: tuple[RepeatCause, ...]
    missed_notifications: tuple[MissedNotification, ...]
    overdue_items: tuple[OwnedItem, ...]

    def to_json(self) -> dict[str, Any]:
        today = self.now.date()
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "now": self.now.isoformat(),
            "per_severity": [g.to_json() for g in self.per_severity],
            "per_month": [g.to_json() for g in self.per_month],
            "lagging": {
                "repeat_root_causes": [
                    {"root_cause": r.root_cause, "cases": list(r.cases)} for r in self.repeats
                ],
                "missed_notifications": [
                    {
                        "case": m.case_id,
                        "title": m.title,
                        "due_at": m.due_at.isoformat(),
                        "notified_at": m.notified_at.isoformat() if m.notified_at else None,
                    }
                    for m in self.missed_notifications
                ],
                "overdue_action_items": [o.to_json(today) for o in self.overdue_items],
            },
        }


def _group(key: str, facts: Sequence[CaseFacts], policy: IncidentPolicy, now: datetime) -> Group:
    ttd, ttr, tta, ttc = [], [], [], []
    for f in facts:
        if f.first_activity_at is not None:
            ttd.append(max((f.detected_at or f.declared_at) - f.first_activity_at, timedelta(0)))
        if f.recovered_at is not None:
            ttr.append(max(f.recovered_at - f.declared_at, timedelta(0)))
        ack, contain = sla_deadlines(f, policy, now)
        if ack.took is not None:
            tta.append(ack.took)
        if contain.took is not None:
            ttc.append(contain.took)
    return Group(
        key, len(facts), len(ttd), len(ttr), _mean(ttd), _mean(ttr), _mean(tta), _mean(ttc)
    )


def _cause_key(cause: str) -> str:
    return " ".join(cause.casefold().split())


def leadership(
    facts: Iterable[CaseFacts],
    overdue_items: Iterable[OwnedItem],
    policy: IncidentPolicy,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
) -> Leadership:
    """Over incidents *declared* in [since, until); overdue items are those overdue now."""
    period = sorted(
        (f for f in facts if since <= f.declared_at < until), key=lambda f: f.declared_at
    )
    per_severity = tuple(
        _group(s, [f for f in period if f.severity == s], policy, now) for s in SEVERITIES
    )
    months: dict[str, list[CaseFacts]] = defaultdict(list)
    for f in period:
        months[f.declared_at.strftime("%Y-%m")].append(f)
    per_month = tuple(_group(m, months[m], policy, now) for m in sorted(months))
    causes: dict[str, list[CaseFacts]] = defaultdict(list)
    for f in period:
        if f.root_cause:
            causes[_cause_key(f.root_cause)].append(f)
    repeats = tuple(
        RepeatCause(group[0].root_cause or key, tuple(f.case_id for f in group))
        for key, group in sorted(causes.items())
        if len(group) > 1
    )
    missed = []
    for f in period:
        d = notification_deadline(f, policy, now)
        if d.state in ("breached", "overdue") and d.due_at is not None:
            missed.append(MissedNotification(f.case_id, f.title, d.due_at, d.done_at))
    return Leadership(
        since,
        until,
        now,
        per_severity,
        per_month,
        repeats,
        tuple(missed),
        tuple(overdue_items),
    )


CSV_HEADER = ("section", "key", "metric", "value", "case")


def to_csv_rows(m: Leadership, today: date) -> Iterator[str]:
    """One long table (section, key, metric, value, case): easy to pivot in a spreadsheet."""

    def line(*cells: Any) -> str:
        buf = io.StringIO()
        # text told by people (titles, root causes) must not run as a spreadsheet formula
        csv.writer(buf, lineterminator="\r\n").writerow(
            [_cell(c) if isinstance(c, str) else c for c in cells]
        )
        return buf.getvalue()

    yield line(*CSV_HEADER)
    for section, groups in (("severity", m.per_severity), ("month", m.per_month)):
        for g in groups:
            for metric, value in g.to_json().items():
                if metric != "key":
                    yield line(section, g.key, metric, "" if value is None else value, "")
    for r in m.repeats:
        for case in r.cases:
            yield line("repeat_root_cause", r.root_cause, "incidents", len(r.cases), case)
    for n in m.missed_notifications:
        late = (n.notified_at or m.now) - n.due_at
        yield line("missed_notification", n.title, "late_seconds", late.total_seconds(), n.case_id)
    for o in m.overdue_items:
        days = (today - date.fromisoformat(o.item.due)).days
        yield line("overdue_action_item", o.item.title, "days_overdue", days, o.case_id)
