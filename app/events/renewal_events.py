"""Renewals of the vault's evidence before its time-stamps expire (`locard renew`).

No index rows change: the renewals themselves are archived in the write-once store
(`custody.renewal`, `reports/`); these events put each one in the ledger, so a renewal's
existence and its time are themselves sealed and timestamped.
"""

from __future__ import annotations

from app.events.catalogue import Body, EventSpec, EventType, declare
from app.events.phrases import Names
from verify.events import Event


class EvidenceRenewed(Body):
    """An archive timestamp over checkpoint tokens (and earlier renewals)."""

    seq: int
    #: the store object holding the renewal (its leaves, token and chain)
    key: str
    tsa: str
    #: True when the renewer is the vault's own TSA: the renewal then adds no outside proof
    self_operated: bool
    gen_time: str
    #: RFC 9162 root over SHA-256 of each renewed token: the renewal token's imprint
    root: str
    leaves: int
    token_sha256: str
    reason: str


class ReportRenewed(Body):
    """A new version of an issued report with an archive document timestamp added."""

    #: SHA-256 of the report as first issued (its `report.issued` event's)
    issued_sha256: str
    previous_sha256: str
    sha256: str
    size: int
    version: int
    key: str
    tsa: str
    self_operated: bool
    reason: str


def _who(ev: Event) -> str:
    tsa = ev.body.get("tsa")
    return f"{tsa} (the vault's own TSA)" if ev.body.get("self_operated") else str(tsa)


def _summary_evidence(ev: Event, names: Names) -> str:
    return (
        f"Renewal {ev.body.get('seq')} re-timestamped {ev.body.get('leaves')} token(s) "
        f"by {_who(ev)}: {ev.body.get('reason')}"
    )


def _summary_report(ev: Event, names: Names) -> str:
    return (
        f"Custody report {str(ev.body.get('issued_sha256', ''))[:16]}… renewed "
        f"(version {ev.body.get('version')}, SHA-256 {str(ev.body.get('sha256', ''))[:16]}…) "
        f"by {_who(ev)}"
    )


EVIDENCE_RENEWED = declare(
    EventSpec(
        EventType.evidence_renewed,
        "admin",
        {1: EvidenceRenewed},
        _summary_evidence,
    )
)
REPORT_RENEWED = declare(
    EventSpec(
        EventType.report_renewed,
        "report",
        {1: ReportRenewed},
        _summary_report,
    )
)
