"""search index: the words of each case event, with the engine's full-text index over them

Revision ID: 0010_search_index
Revises: 0009_case_assets
Create Date: 2026-12-07 18:00:00.000000

SQLite: an FTS5 table over `search_entries.terms` (external content, rowid = the event's
ledger index) kept by triggers. PostgreSQL: a GIN index over the `simple` tsvector of
`terms`. Rows of events sealed before this revision are projected here from the ledger,
so an upgraded vault searches its history and its audit finds the rows it expects.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0010_search_index"
down_revision = "0009_case_assets"
branch_labels = None
depends_on = None

_SQLITE = (
    "CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='search_entries', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END",
    "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
    "INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END",
)
_POSTGRES = (
    "CREATE INDEX ix_search_entries_fts ON search_entries USING GIN (to_tsvector('simple', terms))",
)


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_entries_case_id", "search_entries", ["case_id"])
    bind = op.get_bind()
    for statement in _SQLITE if bind.dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)
    _backfill(bind)


def _backfill(bind: sa.Connection) -> None:
    from app.search.indexing import entry_values
    from verify.events import decode_event

    events = sa.table(
        "ledger_events", sa.column("leaf_index", sa.BigInteger), sa.column("canonical")
    )
    entries = sa.table(
        "search_entries",
        *(sa.column(c) for c in ("id", "case_id", "kind", "ref", "event_type", "terms")),
    )
    rows = bind.execute(
        sa.select(events.c.leaf_index, events.c.canonical)
        .order_by(events.c.leaf_index)
        .execution_options(yield_per=500)
    )
    batch = []
    for index, canonical in rows:
        values = entry_values(index, decode_event(bytes(canonical)))
        if values is not None:
            batch.append(values)
        if len(batch) >= 500:
            bind.execute(entries.insert(), batch)
            batch = []
    if batch:
        bind.execute(entries.insert(), batch)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("search_entries_ai", "search_entries_ad", "search_entries_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_entries")
