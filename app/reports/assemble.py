"""Building a custody report: the facts gathered as of the anchor checkpoint, their checks,
the commands that re-check them, and the notes that qualify them."""

from __future__ import annotations

from datetime import UTC, datetime

from app.auth.models import Principal, Role
from app.cases.service import readable_case
from app.errors import Forbidden
from app.events import EventType
from app.reports import gather as g
from app.reports.checks import run_checks
from app.reports.models import Actor, Anchor, CaseReport, CaseSummary, ReportSigner, VaultInfo
from app.reports.recheck import commands
from app.reports.renewals import with_renewals
from app.vault import Vault

REPORT_ROLES = frozenset({Role.legal.value, Role.auditor.value, Role.admin.value})


def build_report(
    vault: Vault, who: Principal, case_id: str, *, signer: ReportSigner | None = None
) -> CaseReport:
    """Everything the vault can prove about a case, checked, as of the latest checkpoint."""
    if who.role not in REPORT_ROLES:
        raise Forbidden(f"role {who.role!r} may not issue custody reports")
    case = readable_case(vault.engine, case_id, who)
    facts = g.gather(vault, case_id)
    found = g.entries(facts)
    origin = vault.ledger.origin
    witnesses = g.witness_verifiers(vault)
    anchor = g.anchor_of(facts, origin, witnesses)
    info = with_renewals(g.vault_info(vault, signer), vault.store, facts.checkpoints.values())
    artifacts = [g.artifact_report(a, found.by_item.get(a.id, [])) for a in facts.artifacts]
    return CaseReport(
        generated_at=datetime.now(UTC),
        generated_by=Actor(id=who.id, role=who.role),
        vault=info,
        case=CaseSummary.model_validate(case, from_attributes=True),
        artifacts=artifacts,
        case_events=found.case_events,
        containment=[
            g.containment(e) for e in found.case_events if e.type == EventType.containment
        ],
        holds=[g.hold(e) for e in found.case_events if e.type in g.HOLD_TYPES],
        checkpoints=g.checkpoint_refs(facts, origin),
        anchor=anchor,
        checks=run_checks(vault, facts, found, facts.artifacts, witnesses),
        recheck=commands(case.id, anchor, info, artifacts, signer),
        notes=_notes(info, anchor, facts),
    )


def _notes(vault: VaultInfo, anchor: Anchor, facts: g.Gathered) -> list[str]:
    notes = [
        f"This report states the ledger as of checkpoint {anchor.size}; events sealed later "
        "appear in later reports.",
        "Artifact bytes were not re-read for this report: their hashes come from the ingest "
        "events, computed while the bytes streamed in. Check a copy with `locard verify "
        "--artifact`.",
    ]
    for t in vault.tsas:
        if t.self_operated:
            notes.append(
                f"TSA '{t.name}' is self-operated by the vault: its times attest the vault "
                "operator's own clock, not an independent authority."
            )
    pending = sorted(s for s in facts.sealed_in if facts.checkpoints[s].tokens_pending)
    if pending:
        notes.append(
            f"Checkpoints {pending} still await a token from a TSA that was unavailable; the "
            f"facts they cover are anchored by checkpoint {anchor.size} instead."
        )
    return notes
