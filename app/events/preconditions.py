"""Preconditions: the state a change assumes, checked by the sequencer inside the seal.

A service reads the state, decides, and sends its event with the state it assumed.
Two racing changes are then serialised by the seal: the first is sealed and projected,
and the second finds the state moved and is refused (409 with the state it found),
alone, while the rest of its batch is sealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session

from app.artifacts.models import Artifact
from app.assets.models import CaseAsset
from app.auth.models import Principal, PrincipalRequest
from app.cases.models import Case, CaseMember
from app.events.values import event_value
from app.playbooks.models import CasePlaybook, PlaybookStep
from custody.ledger import Refused


class Precondition(Protocol):
    def check(self, s: Session) -> None:
        """Raise `Refused` (with the state found) unless the assumed state holds."""


def _case(s: Session, case_id: str) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise Refused(f"no case {case_id}", {"case": None})
    return case


@dataclass(frozen=True)
class CaseExists:
    case: str

    def check(self, s: Session) -> None:
        _case(s, self.case)


@dataclass(frozen=True)
class CaseFieldsAre:
    """The case's fields still hold these values (event-value form: ISO strings, enums'
    values), i.e. nobody changed them since the caller read them."""

    case: str
    values: dict[str, Any]

    def check(self, s: Session) -> None:
        row = _case(s, self.case)
        found = {k: event_value(getattr(row, k)) for k in self.values}
        if found != self.values:
            moved = sorted(k for k in self.values if found[k] != self.values[k])
            raise Refused(f"case {self.case} changed meanwhile ({', '.join(moved)})", found)


@dataclass(frozen=True)
class HoldIs:
    case: str
    on: bool

    def check(self, s: Session) -> None:
        row = _case(s, self.case)
        if row.legal_hold != self.on:
            state = "set" if row.legal_hold else "released"
            raise Refused(
                f"legal hold on {self.case} is already {state}", {"legal_hold": row.legal_hold}
            )


@dataclass(frozen=True)
class MemberOf:
    case: str
    principal: str

    def check(self, s: Session) -> None:
        if s.get(CaseMember, (self.case, self.principal)) is None:
            raise Refused(
                f"{self.principal} is not a member of case {self.case}",
                {"member": False, "principal": self.principal},
            )


@dataclass(frozen=True)
class CustodianIs:
    item: str
    principal: str

    def check(self, s: Session) -> None:
        art = s.get(Artifact, self.item)
        if art is None:
            raise Refused(f"no artifact {self.item}", {"artifact": None})
        if art.custodian != self.principal:
            raise Refused(
                f"custody of {self.item} is held by {art.custodian}, not {self.principal}",
                {"custodian": art.custodian},
            )


@dataclass(frozen=True)
class PrincipalExists:
    principal: str

    def check(self, s: Session) -> None:
        if s.get(Principal, self.principal) is None:
            raise Refused(f"no principal {self.principal}", {"principal": None})


@dataclass(frozen=True)
class PrincipalAbsent:
    principal: str

    def check(self, s: Session) -> None:
        if s.get(Principal, self.principal) is not None:
            raise Refused(f"principal {self.principal!r} exists", {"principal": self.principal})


@dataclass(frozen=True)
class ArtifactAbsent:
    """An artifact id claimed before sealing is still unused (a retried completion)."""

    item: str

    def check(self, s: Session) -> None:
        if s.get(Artifact, self.item) is not None:
            raise Refused(f"artifact {self.item} is already recorded", {"artifact": self.item})


@dataclass(frozen=True)
class RequestPending:
    """A principal request is still pending (neither approved nor declined meanwhile)."""

    request: str

    def check(self, s: Session) -> None:
        row = s.get(PrincipalRequest, self.request)
        if row is None:
            raise Refused(f"no principal request {self.request}", {"request": None})
        if row.state != "pending":
            raise Refused(f"request {self.request} is already {row.state}", {"state": row.state})


@dataclass(frozen=True)
class PrincipalIs:
    """The principal still has this role and is not disabled."""

    principal: str
    role: str

    def check(self, s: Session) -> None:
        p = s.get(Principal, self.principal)
        if p is None:
            raise Refused(f"no principal {self.principal}", {"principal": None})
        if p.role != self.role or p.disabled:
            raise Refused(
                f"{self.principal} is now {'disabled' if p.disabled else p.role}",
                {"role": p.role, "disabled": p.disabled},
            )


@dataclass(frozen=True)
class ClassificationIs:
    """The case is still classified as the caller saw it (None: not yet classified)."""

    case: str
    scenario: str | None

    def check(self, s: Session) -> None:
        _case(s, self.case)
        row = s.get(CasePlaybook, self.case)
        found = row.scenario if row is not None else None
        if found != self.scenario:
            raise Refused(
                f"case {self.case} is now classified as {found or 'nothing'}",
                {"scenario": found},
            )


@dataclass(frozen=True)
class StepPending:
    """The step is on the case's current playbook and nothing was recorded for it yet."""

    case: str
    scenario: str
    step: str

    def check(self, s: Session) -> None:
        ClassificationIs(self.case, self.scenario).check(s)
        row = s.get(PlaybookStep, (self.case, self.step))
        if row is None:
            raise Refused(f"no step {self.step} in the {self.scenario} playbook", {"step": None})
        if row.state != "pending":
            raise Refused(
                f"step {self.step} is already {row.state} (by {row.recorded_by})",
                {"state": row.state, "recorded_by": row.recorded_by},
            )


@dataclass(frozen=True)
class AssetsExist:
    """Every asset named is recorded in the case (an explicit link names a real asset)."""

    case: str
    assets: tuple[str, ...]

    def check(self, s: Session) -> None:
        missing = [a for a in self.assets if s.get(CaseAsset, (self.case, a)) is None]
        if missing:
            raise Refused(f"no asset {', '.join(missing)} in case {self.case}", {"assets": missing})


@dataclass(frozen=True)
class ArtifactInCase:
    case: str
    artifact: str

    def check(self, s: Session) -> None:
        art = s.get(Artifact, self.artifact)
        if art is None or art.case_id != self.case or art.ingest_index is None:
            raise Refused(f"no artifact {self.artifact} in case {self.case}", {"artifact": None})
