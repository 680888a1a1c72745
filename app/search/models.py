"""The search index: one row per searchable event, written only by its projection.

A row holds the words of the event's facts (titles, descriptions, notes, file names,
targets), never its rendered summary: summaries are wording that a release may change,
and a row must stay equal to what the archived event projects. The full-text index over
`terms` is the database's own (SQLite FTS5 kept by triggers, PostgreSQL a GIN index over
its tsvector; see migration 0010_search_index), so no code writes it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Text
from sqlmodel import Field, SQLModel


class SearchEntry(SQLModel, table=True):
    __tablename__ = "search_entries"

    #: the ledger index of the event: stable under rebuild, an integer for FTS5's rowid
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    case_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    #: what a hit opens: "case", "artifact" or "event" (a timeline entry)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    #: the case id or artifact id the hit links to
    ref: str = Field(sa_column=Column(String(64), nullable=False))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    #: lower-case words separated by single spaces (see `app.search.terms.words`)
    terms: str = Field(sa_column=Column(Text, nullable=False))
