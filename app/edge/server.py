"""The uvicorn configuration every Locard server runs with (`locard serve`, the tests)."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from app.edge.protocol import EdgeLimits, guarded_protocol
from app.settings import Settings


def server_config(
    app: ASGIApp,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
) -> uvicorn.Config:
    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=log_level,
        # Off by default: a log line per request cost ~5% of a request's CPU, and what
        # matters to custody (every access to evidence) is a ledger event anyway.
        access_log=settings.access_log,
        lifespan="on",
        http=guarded_protocol(EdgeLimits.from_settings(settings)),
        ws="none",
        # X-Forwarded-For/-Proto are believed from the configured proxies only; uvicorn
        # would otherwise trust them from 127.0.0.1 by default.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_graceful_shutdown=10,
    )
