from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from custody.types import UtcDateTime


class Role(StrEnum):
    collector = "collector"
    legal = "legal"
    auditor = "auditor"
    admin = "admin"


class Principal(SQLModel, table=True):
    __tablename__ = "principals"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    #: SHA-256 of the bearer token: tokens are 256-bit random, so a fast hash is enough
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True, index=True))
    #: optional Ed25519 public key (base64, raw 32 bytes) for signed upload manifests
    public_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    disabled: bool = False
    #: when the token stops working; NULL: issued before tokens expired (valid until reissued)
    token_expires_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class PrincipalRequest(SQLModel, table=True):
    """A legal or admin principal asked for by one admin, waiting for a second (four eyes)."""

    __tablename__ = "principal_requests"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    #: "create" a principal, or "promote" an existing one to `role`
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    principal: str = Field(sa_column=Column(String(64), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    public_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    requested_by: str = Field(sa_column=Column(String(64), nullable=False))
    requested_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    #: pending | approved | declined
    state: str = Field(sa_column=Column(String(16), nullable=False))
    decided_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
