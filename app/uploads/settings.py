"""Settings of resumable uploads, from LOCARD_UPLOAD_* environment variables.

Kept apart from app.settings.Settings so this domain can be configured (and tested)
without touching the vault's own settings; the spool lives under the vault's data dir.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class UploadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOCARD_UPLOAD_")

    #: a session not completed within this many hours expires and its spool is removed
    expiry_hours: float = Field(default=7 * 24, gt=0)
    #: a PATCH whose body stalls this long ends; what arrived is kept (a half-open
    #: connection would otherwise hold the session's lock for hours)
    idle_timeout_s: float = Field(default=60, gt=0)
    #: how often (at most) request handling also sweeps expired sessions
    sweep_interval_s: float = Field(default=600, ge=0)
    #: a spool file with no open session is only removed once this old: the session
    #: row and its file are created in two steps, possibly by another API process
    orphan_grace_s: float = Field(default=3600, ge=0)
    #: bytes one principal's open sessions may declare in all (LOCARD_UPLOAD_QUOTA_BYTES):
    #: beyond it a new session answers 507 until one is completed or abandoned
    quota_bytes: int = Field(default=2 << 40, ge=0)


@cache
def upload_settings() -> UploadSettings:
    return UploadSettings()
