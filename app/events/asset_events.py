"""Asset events: a host, account, container or IP involved in a case, with its owner and
business criticality (recording it again, same kind and name, updates it); and an artifact
linked to the asset it was collected from, by asset id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from app.assets.models import AssetLink, CaseAsset, LinkKind, asset_id
from app.events.catalogue import Body, EventSpec, EventType, declare
from app.events.phrases import Names
from app.events.text import short
from verify.events import Event


class AssetRecorded(Body):
    kind: str
    name: str
    owner: str
    criticality: str
    notes: str


def _project(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    assert ev.case is not None
    b = ASSET_RECORDED.parse(ev)
    assert isinstance(b, AssetRecorded)
    key = asset_id(b.kind, b.name)
    row = s.get(CaseAsset, (ev.case, key))
    if row is None:
        row = CaseAsset(
            case_id=ev.case,
            asset_id=key,
            kind=b.kind,
            name=b.name,
            owner=b.owner,
            criticality=b.criticality,
            notes=b.notes,
            recorded_at=ev.at,
            recorded_by=ev.actor_id,
        )
    else:
        row.name, row.owner, row.criticality, row.notes = b.name, b.owner, b.criticality, b.notes
        row.recorded_at, row.recorded_by = ev.at, ev.actor_id
    s.add(row)


def _summary(ev: Event, names: Names) -> str:
    b = ev.body
    return (
        f"Asset {b.get('kind')} {short(b.get('name'), 80)} involved "
        f"(owner {short(b.get('owner'), 60)}, {b.get('criticality')} criticality)"
    )


ASSET_RECORDED = declare(
    EventSpec(EventType.asset_recorded, "case", {1: AssetRecorded}, _summary, project=_project)
)


class AssetLinked(Body):
    """The event's item (an artifact of the case) concerns `asset` (an asset id)."""

    asset: str


def _project_linked(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    assert ev.case is not None and ev.item is not None
    b = ASSET_LINKED.parse(ev)
    assert isinstance(b, AssetLinked)
    key = (ev.case, b.asset, LinkKind.artifact.value, ev.item)
    if s.get(AssetLink, key) is None:
        s.add(AssetLink(case_id=ev.case, asset_id=b.asset, kind=LinkKind.artifact, ref=ev.item))


def _summary_linked(ev: Event, names: Names) -> str:
    return f"Linked {names.artifact(ev.item)} to asset {short(ev.body.get('asset'), 80)}"


ASSET_LINKED = declare(
    EventSpec(
        EventType.asset_linked,
        "evidence",
        {1: AssetLinked},
        _summary_linked,
        project=_project_linked,
    )
)
