"""Assets involved in a case: index rows written only by the `asset.recorded` projection."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from custody.types import UtcDateTime


class AssetKind(StrEnum):
    host = "host"
    account = "account"
    container = "container"
    ip = "ip"


class Criticality(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


def asset_id(kind: str, name: str) -> str:
    """One asset per kind and name in a case, whatever the case of its letters
    (WS-FIN-042 and ws-fin-042 are one host)."""
    return f"{kind}:{name.casefold()}"


class CaseAsset(SQLModel, table=True):
    __tablename__ = "case_assets"

    case_id: str = Field(sa_column=Column(String(32), primary_key=True))
    asset_id: str = Field(sa_column=Column(String(300), primary_key=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    name: str = Field(sa_column=Column(String(255), nullable=False))
    owner: str = Field(sa_column=Column(String(200), nullable=False))
    criticality: str = Field(sa_column=Column(String(16), nullable=False))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    recorded_by: str = Field(sa_column=Column(String(64), nullable=False))


class LinkKind(StrEnum):
    containment = "containment"
    artifact = "artifact"


class AssetLink(SQLModel, table=True):
    """An explicit link from a containment action (`ref`: its ledger index) or an artifact
    (`ref`: its id) to an asset of the same case, written by the projections of
    `containment` (v3 names its assets) and `asset.linked`."""

    __tablename__ = "asset_links"

    case_id: str = Field(sa_column=Column(String(32), primary_key=True))
    asset_id: str = Field(sa_column=Column(String(300), primary_key=True))
    kind: str = Field(sa_column=Column(String(16), primary_key=True))
    ref: str = Field(sa_column=Column(String(64), primary_key=True))
