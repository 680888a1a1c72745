"""An artifact and the reader's right to see it: in one query, and then from memory.

Reading an artifact used to take three lookups (the artifact, its case, the reader's
membership of that case), each a pooled connection, a statement and, on PostgreSQL, a
round trip. `readable_artifact` makes them one statement, built once: the answer and the
errors are those of `get_artifact` followed by `readable_case`. What it finds is then
kept (`SealedAccess`, and the row in a `RowCache`), so that a server answers the next
read of the same artifact, or a write about it, without the database.
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, bindparam, exists, select

from app.artifacts.models import Artifact
from app.auth.models import Principal, Role
from app.cases.models import Case, CaseMember
from app.db import reading
from app.errors import NotFound
from app.rowcache import Generation, RowCache

_ARTIFACTS: Table = Artifact.__table__  # type: ignore[attr-defined]
_CASES: Table = Case.__table__  # type: ignore[attr-defined]
_MEMBERS: Table = CaseMember.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(c.name for c in _ARTIFACTS.columns)

_MEMBER = exists().where(
    _MEMBERS.c.case_id == _ARTIFACTS.c.case_id,
    _MEMBERS.c.principal_id == bindparam("principal_id"),
)
_QUERY = (
    select(
        *_ARTIFACTS.columns,
        (_CASES.c.id.is_not(None)).label("locard_case_found"),
        _MEMBER.label("locard_member"),
    )
    .select_from(_ARTIFACTS.outerjoin(_CASES, _CASES.c.id == _ARTIFACTS.c.case_id))
    .where(_ARTIFACTS.c.id == bindparam("artifact_id"))
)


def readable_artifact(engine: Engine, artifact_id: str, who: Principal) -> Artifact:
    """The sealed artifact `who` may read: collectors only those of their own cases.

    404 for an unknown or still-uploading artifact, and for a collector asking for one in
    another's case (the same answer as an unknown case, so case ids do not leak).
    """
    if "\x00" in artifact_id:
        # No id holds NUL, and PostgreSQL refuses the query itself (a 500, not a 404).
        raise NotFound(f"no artifact {artifact_id!r}")
    with reading(engine) as conn:
        row = conn.execute(_QUERY, {"artifact_id": artifact_id, "principal_id": who.id}).first()
    if row is None or row.ingest_index is None:
        raise NotFound(f"no artifact {artifact_id!r}")
    if not row.locard_case_found or (who.role == Role.collector and not row.locard_member):
        raise NotFound(f"no case {row.case_id!r}")
    values = row._mapping
    return Artifact(**{name: values[name] for name in _COLUMNS})


class SealedAccess:
    """Access facts that, once true, stay true: a sealed artifact's case, and a case's
    members. An artifact's case is fixed by its ingest event, and memberships are only
    ever added (no event removes one), so a positive answer never needs forgetting. A
    write that only needs "may `who` touch this artifact, and in which case" (an
    annotation) then costs no query and no thread hop once the artifact has been read.

    If an event ever removes a member or moves an artifact, its projection must call
    `forget()`; until then nothing does. Bounded: cleared when full (only a cost).
    """

    MAX_ENTRIES = 65_536

    def __init__(self) -> None:
        self._cases: dict[str, str] = {}
        self._members: set[tuple[str, str]] = set()

    def remember(self, art: Artifact, who: Principal) -> None:
        """After `readable_artifact(…, art.id, who)` answered `art`."""
        if len(self._cases) >= self.MAX_ENTRIES or len(self._members) >= self.MAX_ENTRIES:
            self.forget()
        self._cases[art.id] = art.case_id
        if who.role == Role.collector:
            self._members.add((art.case_id, who.id))

    def case_of(self, artifact_id: str, who: Principal) -> str | None:
        """The case of an artifact known readable by `who`; None: ask the database."""
        case = self._cases.get(artifact_id)
        if case is None:
            return None
        if who.role == Role.collector and (case, who.id) not in self._members:
            return None
        return case

    def forget(self) -> None:
        self._cases = {}
        self._members = set()


#: artifact rows a server keeps (a few hundred bytes each)
ARTIFACT_ROWS = 16_384


def artifact_rows(ttl_s: float, generation: Generation) -> RowCache[Artifact]:
    return RowCache(ttl_s, generation, ARTIFACT_ROWS)


def cached_artifact(
    rows: RowCache[Artifact], access: SealedAccess, artifact_id: str, who: Principal
) -> Artifact | None:
    """The artifact, if `who` is known to be allowed to read it and its row is cached;
    None: ask the database (`remembered_artifact`). The row is shared: read it, never
    change it."""
    if access.case_of(artifact_id, who) is None:
        return None
    return rows.get(artifact_id)


def remembered_artifact(
    engine: Engine,
    rows: RowCache[Artifact],
    access: SealedAccess,
    artifact_id: str,
    who: Principal,
) -> Artifact:
    """`readable_artifact`, and what it learnt kept for `cached_artifact`."""
    generation = rows.generation
    art = readable_artifact(engine, artifact_id, who)
    access.remember(art, who)
    rows.put(art.id, art, generation)
    return art
