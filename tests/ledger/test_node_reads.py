"""Proofs and seals read their tree nodes by primary key, never by scanning the table.

SQLite plans a row-value `(level, index) IN (...)` as a scan of every node, so each proof
and each seal grew linear in the ledger's size (1.35 ms at 8,600 leaves, twice the time
at 4,300). The statements the node source runs are checked against SQLite's own plan.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from custody.ledger import EventDraft, Ledger


def test_proofs_and_seals_search_the_primary_key(ledger: Ledger) -> None:
    if ledger.engine.dialect.name != "sqlite":
        return  # PostgreSQL answers the tuple IN with index scans (a BitmapOr)
    for i in range(3):
        ledger.seal(
            [
                EventDraft(
                    type="note", actor_id="a", actor_role="collector", body={"n": i * 10 + j}
                )
                for j in range(10)
            ]
        )
    statements: list[tuple[str, Any]] = []

    def seen(_c: object, _cur: object, sql: str, params: Any, *_: object) -> None:
        if "tree_nodes" in sql and sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))

    event.listen(ledger.engine, "before_cursor_execute", seen)
    try:
        size = ledger.size()
        assert ledger.inclusion(7, size) and ledger.consistency(5, size)
        ledger.seal([EventDraft(type="note", actor_id="a", actor_role="collector", body={})])
    finally:
        event.remove(ledger.engine, "before_cursor_execute", seen)
    assert statements, "no node read was seen"
    with ledger.engine.connect() as conn:
        for sql, params in statements:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            assert not any(step.startswith("SCAN tree_nodes") for step in plan), (sql, plan)
            assert any("USING INDEX" in step or "USING PRIMARY KEY" in step for step in plan), plan
