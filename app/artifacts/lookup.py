"""An artifact and the reader's right to see it, in one query.

Reading an artifact used to take three lookups (the artifact, its case, the reader's
membership of that case), each a pooled connection, a statement and, on PostgreSQL, a
round trip. Here they are one statement, built once: the answer and the errors are those
of `get_artifact` followed by `readable_case`.
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, bindparam, exists, select

from app.artifacts.models import Artifact
from app.auth.models import Principal, Role
from app.cases.models import Case, CaseMember
from app.db import reading
from app.errors import NotFound

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
