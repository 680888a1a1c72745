"""Search: full-text over the index rows of the cases a principal may see, and lookup of
artifacts by SHA-256, SHA-1 or MD5. One API on SQLite (FTS5) and PostgreSQL (tsvector).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import col, select

from app.artifacts.models import Artifact
from app.auth.models import Principal, Role
from app.cases.models import Case, CaseMember
from app.db import session
from app.events import occurred_at, summary
from app.search.terms import fts5_match, query_words, tsquery
from app.vault import Vault
from custody.db import is_sqlite
from verify.events import decode_event

MAX_RESULTS = 50

_HASH = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}")
_ALGORITHM = {32: "md5", 40: "sha1", 64: "sha256"}


@dataclass(frozen=True)
class Hit:
    index: int
    case_id: str
    case_title: str
    kind: str
    ref: str
    event_type: str
    summary: str
    occurred_at: datetime

    @property
    def href(self) -> str:
        if self.kind == "artifact":
            return f"/artifacts/{self.ref}"
        if self.kind == "case":
            return f"/cases/{self.case_id}"
        return f"/cases/{self.case_id}/timeline"

    def to_json(self) -> dict[str, Any]:
        return {
            "event_index": self.index,
            "case": self.case_id,
            "case_title": self.case_title,
            "kind": self.kind,
            "ref": self.ref,
            "type": self.event_type,
            "summary": self.summary,
            "occurred_at": self.occurred_at.isoformat(),
        }


@dataclass(frozen=True)
class Results:
    query: str
    hits: list[Hit]
    #: the query read as a hash: which algorithm, and the visible artifacts with it
    algorithm: str | None
    artifacts: list[Artifact]

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "hash": None
            if self.algorithm is None
            else {
                "algorithm": self.algorithm,
                "artifacts": [
                    {
                        "id": a.id,
                        "case": a.case_id,
                        "file_name": a.file_name,
                        "size": a.size,
                        "sha256": a.sha256,
                        "sha1": a.sha1,
                        "md5": a.md5,
                    }
                    for a in self.artifacts
                ],
            },
            "results": [h.to_json() for h in self.hits],
        }


def _visible(who: Principal) -> tuple[str, dict[str, Any]]:
    """The case filter of the case list (app.cases.service.list_cases), as SQL."""
    if who.role == Role.collector:
        return (
            " AND e.case_id IN (SELECT case_id FROM case_members WHERE principal_id = :who)",
            {"who": who.id},
        )
    return "", {}


def _matches(engine: Engine, who: Principal, ws: list[str], limit: int) -> list[tuple[Any, ...]]:
    where, params = _visible(who)
    if is_sqlite(engine):
        sql = (
            "SELECT e.id, e.case_id, e.kind, e.ref, e.event_type FROM search_fts "
            "JOIN search_entries e ON e.id = search_fts.rowid "
            f"WHERE search_fts MATCH :match{where} ORDER BY search_fts.rank, e.id DESC LIMIT :n"
        )
        params["match"] = fts5_match(ws)
    else:
        sql = (
            "SELECT e.id, e.case_id, e.kind, e.ref, e.event_type FROM search_entries e "
            f"WHERE to_tsvector('simple', e.terms) @@ to_tsquery('simple', :match){where} "
            "ORDER BY ts_rank(to_tsvector('simple', e.terms), to_tsquery('simple', :match)) "
            "DESC, e.id DESC LIMIT :n"
        )
        params["match"] = tsquery(ws)
    params["n"] = limit
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def _titles(engine: Engine, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    with session(engine) as s:
        rows = s.exec(select(Case.id, Case.title).where(col(Case.id).in_(ids))).all()
        return {i: t for i, t in rows}


def lookup_hash(engine: Engine, who: Principal, digest: str) -> list[Artifact]:
    """Sealed artifacts of visible cases whose SHA-256, SHA-1 or MD5 is `digest`."""
    column = {32: Artifact.md5, 40: Artifact.sha1, 64: Artifact.sha256}[len(digest)]
    with session(engine) as s:
        q = select(Artifact).where(column == digest, col(Artifact.ingest_index).is_not(None))
        if who.role == Role.collector:
            q = q.join(CaseMember, col(CaseMember.case_id) == col(Artifact.case_id)).where(
                CaseMember.principal_id == who.id
            )
        rows = list(s.exec(q.order_by(col(Artifact.created_at))).all())
        for r in rows:
            s.expunge(r)
        return rows


def search(vault: Vault, who: Principal, q: str, limit: int = MAX_RESULTS) -> Results:
    """Hits in ledger order of relevance; a query that is a hex digest also looks it up."""
    ws = query_words(q)
    stripped = q.strip().casefold()
    algorithm = _ALGORITHM[len(stripped)] if _HASH.fullmatch(stripped) else None
    artifacts = lookup_hash(vault.engine, who, stripped) if algorithm else []
    rows = _matches(vault.engine, who, ws, min(limit, MAX_RESULTS))
    titles = _titles(vault.engine, {r[1] for r in rows})
    hits = []
    for index, case_id, kind, ref, event_type in rows:
        ev = decode_event(vault.ledger.event(index).canonical)
        hits.append(
            Hit(
                index,
                case_id,
                titles.get(case_id, ""),
                kind,
                ref,
                event_type,
                summary(ev),
                occurred_at(ev),
            )
        )
    return Results(q, hits, algorithm, artifacts)


__all__ = ["Hit", "Results", "lookup_hash", "search"]
