"""Start-up repair of ingests a crash cut short after their event was sealed.

`record_ingest` writes the artifact row invisible, seals the ingest event, then makes
the row visible. A crash between the seal's commit and that last step leaves a sealed
event about an artifact nobody can see (and the audit names the row as missing). The
ledger is the truth, so the row is published as `record_ingest` would have, but only
if it says exactly what the sealed event says. A row whose event was never sealed
stays invisible: that upload was never acknowledged and never happened as evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import Engine
from sqlalchemy import select as select_rows
from sqlmodel import col, select

from app.artifacts.models import Artifact
from app.cases.models import Case
from app.db import session
from custody.models import LedgerEvent
from storage.base import ObjectStore
from verify.events import decode_event

log = logging.getLogger(__name__)

_EVENTS = LedgerEvent.__table__  # type: ignore[attr-defined]


def publish_sealed_ingests(
    engine: Engine, store: ObjectStore, only: Collection[str] | None = None
) -> int:
    """Make visible every hidden artifact (of `only`, if given) whose ingest event is
    sealed. Returns how many."""
    query = select(Artifact).where(col(Artifact.ingest_index).is_(None))
    if only is not None:
        query = query.where(col(Artifact.id).in_(list(only)))
    with session(engine) as s:
        hidden = {a.id: a for a in s.exec(query).all()}
        if not hidden:
            return 0
        sealed = s.connection().execute(
            select_rows(_EVENTS.c.leaf_index, _EVENTS.c.canonical).where(
                _EVENTS.c.type == "ingest", _EVENTS.c.item.in_(list(hidden))
            )
        )
        published = 0
        for index, canonical in sealed:
            ev = decode_event(bytes(canonical))
            art = hidden[str(ev.item)]
            b = ev.body
            said = (b.get("artifact"), ev.case, b.get("sha256"), b.get("size"), b.get("object_key"))
            if said != (art.id, art.case_id, art.sha256, art.size, art.object_key):
                # Publishing would make the index disagree with the ledger; leave it
                # hidden for the audit to name.
                log.error("ingest event %d does not match hidden artifact %s", index, art.id)
                continue
            art.ingest_index = int(index)
            art.created_at = ev.at
            case = s.get(Case, art.case_id)
            if case is not None and case.legal_hold:
                store.set_legal_hold(art.object_key, True)
            published += 1
        s.commit()
    if published:
        log.warning("published %d artifact(s) whose ingest a crash cut short", published)
    return published
