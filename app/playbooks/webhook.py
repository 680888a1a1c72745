"""Telling an automation system (SOAR) that a playbook step was recorded.

Best effort and after the seal: the step is a fact in the ledger whatever the webhook
answers, so a slow or failing receiver never refuses or undoes it; the answer says
whether the notice was delivered, for the responder to follow up by hand.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from app.settings import Settings

log = logging.getLogger(__name__)


def notify(settings: Settings, payload: dict[str, Any]) -> str | None:
    """`delivered`, `failed: <why>`, or None when no webhook is configured."""
    url = settings.playbook_webhook_url
    if not url:
        return None
    try:
        r = httpx.post(url, json=payload, timeout=settings.playbook_webhook_timeout_s)
    except httpx.HTTPError as exc:
        log.warning("playbook webhook %s: %s", url, exc)
        return f"failed: {type(exc).__name__}"
    if not r.is_success:
        log.warning("playbook webhook %s answered %s", url, r.status_code)
        return f"failed: HTTP {r.status_code}"
    return "delivered"
