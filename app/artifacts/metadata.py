"""Validation of what a collector says about an artifact.

Bad input is refused before any byte of the upload is stored.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.errors import BadRequest
from app.text import multi_line, single_line

_MEDIA = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_SEALS = 20
#: the item's description as a custody form records it (ingest v3 fields, each optional)
DESCRIPTION_FIELDS = (
    "device_make",
    "device_model",
    "device_serial",
    "seals",
    "collected_by",
    "collection_place",
    "tool_version",
)


def clean_file_name(name: str) -> str:
    """A file name as evidence metadata: kept verbatim where safe, refused where not.

    Refusing (rather than silently rewriting) keeps what the ledger records equal to
    what the collector sent; path separators and control characters are never stored.
    """
    if not name or len(name) > 255:
        raise BadRequest("file name must be 1-255 characters")
    name = unicodedata.normalize("NFC", name)
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise BadRequest("file name contains control or invisible format characters")
    if "/" in name or "\\" in name:
        raise BadRequest("file name must not contain path separators")
    if name in (".", "..") or name.strip() != name or not name.strip(". "):
        raise BadRequest("file name is not a usable name")
    return name


#: what HTTP tools send for a raw body when nobody named a type (curl's `--data-binary`
#: default is form encoding): not a statement about the evidence, so not recorded as one
_UNNAMED_TYPES = frozenset({"", "application/octet-stream", "application/x-www-form-urlencoded"})


def named_media_type(content_type: str) -> bool:
    """Does this Content-Type of a raw upload name the evidence's type?"""
    return content_type.split(";", 1)[0].strip().lower() not in _UNNAMED_TYPES


class ArtifactMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str
    media_type: str = "application/octet-stream"
    source_host: str | None = Field(default=None, max_length=255)
    collection_method: str | None = Field(default=None, max_length=255)
    collection_tool: str | None = Field(default=None, max_length=255)
    collected_at: datetime | None = None
    notes: str = Field(default="", max_length=20_000)
    sha256: str | None = None
    # What a custody form records of the item itself (ingest v3), each optional.
    device_make: str | None = Field(default=None, max_length=255)
    device_model: str | None = Field(default=None, max_length=255)
    device_serial: str | None = Field(default=None, max_length=255)
    #: seal / evidence-tag numbers; over HTTP one comma-separated string
    seals: list[str] | None = Field(default=None, max_length=MAX_SEALS)
    collected_by: str | None = Field(default=None, max_length=255)
    collection_place: str | None = Field(default=None, max_length=255)
    tool_version: str | None = Field(default=None, max_length=255)

    @field_validator("file_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return clean_file_name(v)

    @field_validator("media_type")
    @classmethod
    def _media(cls, v: str) -> str:
        v = v.split(";", 1)[0].strip().lower()
        if not _MEDIA.match(v):
            raise ValueError("not a media type like type/subtype")
        return v

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.lower()
        if not _SHA256.match(v):
            raise ValueError("sha256 must be 64 hex digits")
        return v

    @field_validator("collected_at")
    @classmethod
    def _when(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        if v.tzinfo is None:
            raise ValueError("collected_at must carry a timezone (e.g. Z)")
        try:
            v = v.astimezone(UTC)
        except OverflowError:
            # e.g. 0001-01-01T00:00+05:00 lies before year 1 in UTC
            raise ValueError("collected_at is outside the representable range") from None
        # It becomes the ingest's `occurred_at`, which the seal refuses after its own time:
        # refused here, before a byte is read, rather than after the upload.
        if v > datetime.now(UTC):
            raise ValueError("collected_at lies in the future: collection is told after it")
        return v

    @field_validator(
        "source_host",
        "collection_method",
        "collection_tool",
        "device_make",
        "device_model",
        "device_serial",
        "collected_by",
        "collection_place",
        "tool_version",
    )
    @classmethod
    def _single(cls, v: str | None) -> str | None:
        return None if v is None else single_line(v)

    @field_validator("seals", mode="before")
    @classmethod
    def _seals(cls, v: object) -> object:
        if isinstance(v, str):
            v = [s.strip() for s in v.split(",")]
        if isinstance(v, list):
            v = [s for s in v if s != ""] or None
        return v

    @field_validator("seals")
    @classmethod
    def _seal_numbers(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = [single_line(s) for s in v]
        if any(len(s) > 100 or "," in s for s in out):
            raise ValueError("a seal number is at most 100 characters, without commas")
        if len(set(out)) != len(out):
            raise ValueError("a seal number is listed twice")
        return out

    @field_validator("notes")
    @classmethod
    def _multi(cls, v: str) -> str:
        return multi_line(v)
