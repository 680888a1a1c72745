"""The field-exact audit: every index row against the projection of the archive.

The archive's events are projected, by the same code the seal runs, into a scratch
SQLite database; then each projected table is compared with the live one row by row
and field by field. A row edited, added or dropped beside the ledger is named with
its table, key and field. Secrets that are not facts (token hashes) are left out.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select
from sqlmodel import Session

from app.artifacts.models import Artifact
from app.assets.models import AssetLink, CaseAsset
from app.auth.models import Principal, PrincipalRequest
from app.cases.models import Case, CaseMember
from app.events.projection import apply
from app.playbooks.models import CasePlaybook, PlaybookStep
from app.search.models import SearchEntry
from custody.db import make_engine
from verify.errors import VerificationError
from verify.events import Event

#: the tables the catalogue's projections write, with the columns that are not facts
PROJECTED: tuple[tuple[Table, frozenset[str]], ...] = (
    (Principal.__table__, frozenset({"token_hash", "token_expires_at"})),  # type: ignore[attr-defined]
    (PrincipalRequest.__table__, frozenset()),  # type: ignore[attr-defined]
    (Case.__table__, frozenset()),  # type: ignore[attr-defined]
    (CaseMember.__table__, frozenset()),  # type: ignore[attr-defined]
    (Artifact.__table__, frozenset()),  # type: ignore[attr-defined]
    (CasePlaybook.__table__, frozenset()),  # type: ignore[attr-defined]
    (PlaybookStep.__table__, frozenset()),  # type: ignore[attr-defined]
    (CaseAsset.__table__, frozenset()),  # type: ignore[attr-defined]
    (SearchEntry.__table__, frozenset()),  # type: ignore[attr-defined]
    (AssetLink.__table__, frozenset()),  # type: ignore[attr-defined]
)


class IndexDiffers(VerificationError):
    """A database row differs from what the archived events project."""

    check = "index rows"


@dataclass(frozen=True)
class Difference:
    table: str
    key: tuple[Any, ...]
    field: str | None  # None: the whole row is missing or extra
    live: Any
    projected: Any

    def __str__(self) -> str:
        key = "/".join(str(k) for k in self.key)
        if self.field is None:
            where = "missing from the database" if self.live is None else "not in the archive"
            return f"{self.table} {key}: row {where}"
        return f"{self.table} {key}.{self.field}: {self.live!r} (projection: {self.projected!r})"


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    return value


def _rows(
    engine: Engine, table: Table, skip: frozenset[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    keys = [c.name for c in table.primary_key.columns]
    cols = [c for c in table.columns if c.name not in skip]
    with engine.connect() as conn:
        result = conn.execute(select(*cols))
        return {
            tuple(row._mapping[k] for k in keys): {
                c.name: _norm(row._mapping[c.name]) for c in cols
            }
            for row in result
        }


def project(events: Iterable[tuple[int, Event]], workdir: Path) -> Engine:
    """A scratch database holding exactly what the events project."""
    engine = make_engine(f"sqlite:///{workdir / 'projection.db'}")
    for table, _ in PROJECTED:
        table.create(engine)
    with Session(engine) as s:
        for index, ev in events:
            apply(s, index, ev)
        s.commit()
    return engine


def differences(live: Engine, projected: Engine) -> Iterator[Difference]:
    for table, skip in PROJECTED:
        have = _rows(live, table, skip)
        want = _rows(projected, table, skip)
        for key in sorted(set(have) | set(want), key=str):
            if key not in have:
                yield Difference(table.name, key, None, None, want[key])
            elif key not in want:
                yield Difference(table.name, key, None, have[key], None)
            else:
                for name, value in want[key].items():
                    if have[key][name] != value:
                        yield Difference(table.name, key, name, have[key][name], value)


def check_index(live: Engine, events: Iterable[tuple[int, Event]], limit: int = 20) -> str:
    """The audit check: raises IndexDiffers naming up to `limit` differences."""
    with tempfile.TemporaryDirectory(prefix="locard-audit-") as tmp:
        scratch = project(events, Path(tmp))
        try:
            found = []
            for d in differences(live, scratch):
                found.append(str(d))
                if len(found) > limit:
                    break
        finally:
            scratch.dispose()
    if found:
        more = " (and more)" if len(found) > limit else ""
        raise IndexDiffers("; ".join(found[:limit]) + more, subject="database index")
    return "every row equals the projection of the archived events"
