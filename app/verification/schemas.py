"""What the verification endpoints take and answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.artifacts.schemas import ArtifactOut
from app.text import MultiLine

SHA256_HEX = r"^[0-9a-f]{64}$"


class CheckOut(BaseModel):
    name: str
    #: info rows state a fact that is neither pass nor fail (a pending token, say)
    state: Literal["pass", "fail", "info"]
    detail: str


class ArtifactVerificationOut(BaseModel):
    artifact: ArtifactOut
    ok: bool
    checks: list[CheckOut]
    #: the receipt of this verification's own access event
    receipt: dict[str, Any]


class DigestIn(BaseModel):
    """Ask by hash, without sending the bytes."""

    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=SHA256_HEX, description="lower-case hex SHA-256")


class Holding(BaseModel):
    artifact: ArtifactOut
    #: the receipt of the artifact's ingest event: where and when the vault took it
    receipt: dict[str, Any]


class HeldOut(BaseModel):
    sha256: str
    #: size, SHA-1 and MD5 of the bytes sent (absent when asked by hash)
    size: int | None = None
    sha1: str | None = None
    md5: str | None = None
    held: bool
    matches: list[Holding]


class ReasonIn(BaseModel):
    """Why the stored bytes are being read (recorded in the access event)."""

    reason: MultiLine = Field(min_length=1, max_length=2000)
