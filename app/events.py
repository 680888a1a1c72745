"""Recording custody events from services: every write is sealed before it is answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.auth.models import Principal
from app.errors import Unavailable
from app.vault import Vault
from custody.ledger import EventDraft, Receipt
from custody.sequencer import SealTimeout, SequencerStopped
from verify.events import decode_event


def record(
    vault: Vault,
    actor: Principal,
    type: str,
    body: dict[str, Any],
    *,
    case: str | None = None,
    item: str | None = None,
) -> Receipt:
    """Append an event and wait for its seal; returns the receipt (with its proof)."""
    draft = EventDraft(
        type=type, actor_id=actor.id, actor_role=actor.role, body=body, case=case, item=item
    )
    try:
        return vault.sequencer.append(draft)
    except SequencerStopped as exc:
        raise Unavailable("the vault is shutting down; retry") from exc
    except SealTimeout as exc:
        raise Unavailable(f"the ledger is overloaded: {exc}; retry") from exc


def event_time(receipt: Receipt) -> datetime:
    """The sealed time of the event: rows derived from it carry this, not their own clock."""
    return decode_event(receipt.event.canonical).at
