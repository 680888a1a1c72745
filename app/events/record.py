"""Recording custody events from services: every write is sealed before it is answered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.auth.models import Principal
from app.errors import Conflict, Unavailable
from app.events.catalogue import Body, EventType, new_body
from app.events.preconditions import Precondition
from custody.ledger import EventDraft, Receipt, Refused
from custody.sequencer import SealTimeout, SequencerStopped
from verify.events import decode_event

if TYPE_CHECKING:
    from app.vault import Vault


def draft(
    actor_id: str,
    actor_role: str,
    type: EventType,
    body: Body,
    *,
    case: str | None = None,
    item: str | None = None,
    preconditions: Iterable[Precondition] = (),
    private: Mapping[str, Any] | None = None,
) -> EventDraft:
    return EventDraft(
        type=type.value,
        actor_id=actor_id,
        actor_role=actor_role,
        body=new_body(type, body),
        case=case,
        item=item,
        preconditions=tuple(preconditions),
        private=dict(private or {}),
    )


@contextmanager
def _sealing() -> Iterator[None]:
    """The sequencer's refusals as API errors: a refused precondition answers 409 with the
    state found, a stopping or overloaded ledger 503 (retry)."""
    try:
        yield
    except Refused as exc:
        raise Conflict(str(exc), extra={"current": exc.current}) from exc
    except SequencerStopped as exc:
        raise Unavailable("the vault is shutting down; retry") from exc
    except SealTimeout as exc:
        raise Unavailable(f"the ledger is overloaded: {exc}; retry") from exc


def submit(vault: Vault, d: EventDraft) -> Receipt:
    """Wait for the draft's seal."""
    with _sealing():
        return vault.sequencer.append(d)


async def submit_async(vault: Vault, d: EventDraft) -> Receipt:
    """`submit` awaited on the event loop: no worker thread is parked on the seal."""
    with _sealing():
        return await vault.sequencer.append_async(d)


def record(vault: Vault, actor: Principal, type: EventType, body: Body, **kw: Any) -> Receipt:
    """Append an event and wait for its seal; returns the receipt (with its proof).
    Keywords as for `draft` (case, item, preconditions, private)."""
    return submit(vault, draft(actor.id, actor.role, type, body, **kw))


async def record_async(
    vault: Vault, actor: Principal, type: EventType, body: Body, **kw: Any
) -> Receipt:
    """`record` for async views (see `submit_async`)."""
    return await submit_async(vault, draft(actor.id, actor.role, type, body, **kw))


def event_time(receipt: Receipt) -> datetime:
    """The sealed time of the event."""
    return decode_event(receipt.event.canonical).at


def sealed_case(receipt: Receipt) -> str:
    """The case id the seal allocated (or the one the event named)."""
    case = decode_event(receipt.event.canonical).case
    assert case is not None
    return case
