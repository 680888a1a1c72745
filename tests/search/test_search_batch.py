"""Plain events (nothing to check or project but their search row) skip the per-event
savepoint and have their rows inserted once per seal (app.events.projection): each still
gets exactly its row, a refused neighbour in the same batch gets none, and the index stays
the archive's projection."""

from __future__ import annotations

from sqlalchemy import event, select

from app.audit import audit
from app.events import EventType, draft
from app.events.case_events import Text
from app.events.preconditions import CaseExists
from app.search.models import SearchEntry
from custody.ledger import EventDraft, Receipt, Refused
from tests.support.live_server import LiveVault


def test_one_batch_of_plain_events_with_a_refusal_among_them(live: LiveVault) -> None:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "batched rows", "severity": "P3"})
        assert r.status_code == 201, r.text
        case = r.json()["case"]["id"]

    def note(text: str, *preconditions: CaseExists) -> EventDraft:
        return draft(
            "collector",
            "collector",
            EventType.case_note,
            Text(text=text),
            case=case,
            preconditions=preconditions,
        )

    drafts = [
        note("first plain"),
        note("refused neighbour", CaseExists("no-such-case")),
        note("second plain"),
    ]
    savepoints: list[str] = []

    def seen(_conn: object, name: str) -> None:
        savepoints.append(name)

    event.listen(live.vault.engine, "savepoint", seen)
    try:
        first, refused, second = live.vault.ledger.seal_each(drafts)
    finally:
        event.remove(live.vault.engine, "savepoint", seen)
    assert len(savepoints) == 1, "only the draft with a precondition needs a savepoint"
    assert isinstance(first, Receipt) and isinstance(second, Receipt)
    assert isinstance(refused, Refused)

    with live.vault.engine.connect() as conn:
        rows = {
            r.id: r.terms
            for r in conn.execute(
                select(SearchEntry.id, SearchEntry.terms).where(  # type: ignore[call-overload]
                    SearchEntry.case_id == case, SearchEntry.event_type == "case.note"
                )
            )
        }
    assert set(rows) == {first.event.index, second.event.index}
    assert "first" in rows[first.event.index] and "second" in rows[second.event.index]
    assert not any("neighbour" in t for t in rows.values())
    assert audit(live.vault, content=False).ok
