"""Assets of a case, and what concerns each: containment actions aimed at it and the
artifacts collected from it. Linked explicitly by asset id (a v3 containment action names
its assets; `asset.linked` ties an artifact to one), and also matched by name
(case-insensitively), so the actions and evidence recorded before the asset was need no
change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from app.artifacts.models import Artifact
from app.artifacts.service import list_artifacts
from app.assets.models import AssetKind, AssetLink, CaseAsset, Criticality, LinkKind, asset_id
from app.auth.models import Principal
from app.cases.service import readable_case, writable_case
from app.db import session
from app.errors import NotFound
from app.events import EventType, occurred_at, record
from app.events.asset_events import AssetLinked, AssetRecorded
from app.events.preconditions import ArtifactInCase, AssetsExist, CaseExists
from app.text import MultiLine, SingleLine
from app.vault import Vault
from custody.ledger import Receipt
from verify.events import chain_key, decode_event

_TARGETS = re.compile(r"[,;\s]+")


class AssetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AssetKind
    name: Annotated[SingleLine, Field(min_length=1, max_length=255, pattern=r"\S")]
    owner: Annotated[SingleLine, Field(min_length=1, max_length=200, pattern=r"\S")]
    criticality: Criticality
    notes: Annotated[MultiLine, Field(max_length=4000)] = ""


@dataclass(frozen=True)
class AssetView:
    asset: CaseAsset
    actions: list[dict[str, Any]]
    artifacts: list[Artifact]

    def to_json(self) -> dict[str, Any]:
        a = self.asset
        return {
            "id": a.asset_id,
            "case": a.case_id,
            "kind": a.kind,
            "name": a.name,
            "owner": a.owner,
            "criticality": a.criticality,
            "notes": a.notes,
            "recorded_at": a.recorded_at.isoformat(),
            "recorded_by": a.recorded_by,
            "containment": self.actions,
            "artifacts": [
                {"id": x.id, "file_name": x.file_name, "sha256": x.sha256} for x in self.artifacts
            ],
        }


def _rows(vault: Vault, case_id: str) -> list[CaseAsset]:
    with session(vault.engine) as s:
        rows = list(
            s.exec(
                select(CaseAsset)
                .where(CaseAsset.case_id == case_id)
                .order_by(col(CaseAsset.kind), col(CaseAsset.asset_id))
            ).all()
        )
        for r in rows:
            s.expunge(r)
        return rows


def _containment(vault: Vault, case_id: str) -> list[dict[str, Any]]:
    out = []
    for e in vault.ledger.chain(chain_key(case_id, None)):
        ev = decode_event(e.canonical)
        if ev.type == EventType.containment:
            out.append(
                {
                    "index": e.index,
                    "occurred_at": occurred_at(ev).isoformat(),
                    "action": ev.body.get("action"),
                    "target": ev.body.get("target"),
                    "outcome": ev.body.get("outcome"),
                    "performed_by": ev.body.get("performed_by"),
                }
            )
    return out


def _links(vault: Vault, case_id: str) -> set[tuple[str, str, str]]:
    """(asset id, kind, ref) of every explicit link in the case."""
    with session(vault.engine) as s:
        rows = s.exec(select(AssetLink).where(AssetLink.case_id == case_id)).all()
        return {(r.asset_id, r.kind, r.ref) for r in rows}


def _names(text: Any) -> set[str]:
    return {t.casefold() for t in _TARGETS.split(str(text or "")) if t}


def list_assets(vault: Vault, who: Principal, case_id: str) -> list[AssetView]:
    case = readable_case(vault.engine, case_id, who)
    actions = _containment(vault, case.id)
    arts = list_artifacts(vault.engine, case.id, who)
    links = _links(vault, case.id)
    views = []
    for a in _rows(vault, case.id):
        name, key = a.name.casefold(), a.asset_id
        views.append(
            AssetView(
                a,
                [
                    x
                    for x in actions
                    if (key, LinkKind.containment.value, str(x["index"])) in links
                    or name in _names(x["target"])
                ],
                [
                    x
                    for x in arts
                    if (key, LinkKind.artifact.value, x.id) in links
                    or (x.source_host or "").casefold() == name
                ],
            )
        )
    return views


def get_asset(vault: Vault, who: Principal, case_id: str, key: str) -> AssetView:
    for view in list_assets(vault, who, case_id):
        if view.asset.asset_id == key:
            return view
    raise NotFound(f"no asset {key!r} in case {case_id}")


def record_asset(
    vault: Vault, who: Principal, case_id: str, data: AssetIn
) -> tuple[AssetView, Receipt | None]:
    """Responders on the case (and admin) record an asset; the same again changes nothing."""
    case = writable_case(vault.engine, case_id, who)
    key = asset_id(data.kind.value, data.name.strip())
    body = AssetRecorded(
        kind=data.kind.value,
        name=data.name.strip(),
        owner=data.owner.strip(),
        criticality=data.criticality.value,
        notes=data.notes,
    )
    current = next((r for r in _rows(vault, case.id) if r.asset_id == key), None)
    same = current is not None and (
        current.name,
        current.owner,
        current.criticality,
        current.notes,
    ) == (body.name, body.owner, body.criticality, body.notes)
    receipt = None
    if not same:
        receipt = record(
            vault,
            who,
            EventType.asset_recorded,
            body,
            case=case.id,
            preconditions=[CaseExists(case.id)],
        )
    return get_asset(vault, who, case.id, key), receipt


def link_artifact(
    vault: Vault, who: Principal, case_id: str, key: str, artifact_id: str
) -> tuple[AssetView, Receipt | None]:
    """Tie an artifact of the case to the asset it was collected from; once is enough."""
    case = writable_case(vault.engine, case_id, who)
    view = get_asset(vault, who, case.id, key)
    if not any(a.id == artifact_id for a in list_artifacts(vault.engine, case.id, who)):
        raise NotFound(f"no artifact {artifact_id!r} in case {case.id}")
    if (key, LinkKind.artifact.value, artifact_id) in _links(vault, case.id):
        return view, None
    receipt = record(
        vault,
        who,
        EventType.asset_linked,
        AssetLinked(asset=key),
        case=case.id,
        item=artifact_id,
        preconditions=[AssetsExist(case.id, (key,)), ArtifactInCase(case.id, artifact_id)],
    )
    return get_asset(vault, who, case.id, key), receipt
