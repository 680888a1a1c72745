"""Which run of a collection a container belongs to, and what of it is sealed already.

A run's artifact ids are derived, not drawn: the container's from (case, container
SHA-256, the run's number), each member's from (container id, member name). Sending an
interrupted container again therefore finds its run (the container artifact exists but
its chain has no `collector.container`) and each member's id, and a member whose ingest
is sealed is never ingested twice: its id is taken (the ingest's `ArtifactAbsent`
precondition refuses a second one even from another process). A run that closed is
history: the same container sent again is a new run, numbered after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from sqlmodel import col, select

from app.artifacts.models import Artifact
from app.db import session
from app.events import EventType
from app.vault import Vault
from verify.events import decode_event

#: bound on the parameters of one IN (...) query
_CHUNK = 500


def _derived(*parts: str) -> str:
    h = hashlib.sha256("\x00".join(("locard-collection", *parts)).encode())
    return "art-" + h.hexdigest()[:20]


def container_id(case: str, sha256: str, run: int) -> str:
    return _derived("container", case, sha256, str(run))


def member_id(container: str, kind: str, name: str) -> str:
    """`kind`: 'item' or 'provenance' (a zip may hold a provenance file twice in name only
    if the collector wrote one under uploads/, which must stay two artifacts)."""
    return _derived(kind, container, name)


def sealed_artifacts(vault: Vault, ids: Iterable[str]) -> dict[str, Artifact]:
    """The ones among `ids` whose ingest is sealed."""
    wanted = sorted(set(ids))
    out: dict[str, Artifact] = {}
    with session(vault.engine) as s:
        for i in range(0, len(wanted), _CHUNK):
            rows = s.exec(
                select(Artifact).where(
                    col(Artifact.id).in_(wanted[i : i + _CHUNK]),
                    col(Artifact.ingest_index).is_not(None),
                )
            ).all()
            for row in rows:
                s.expunge(row)
                out[row.id] = row
    return out


@dataclass
class Sealed:
    """The collector events already on some chains."""

    items: set[str] = field(default_factory=set)
    #: chain -> (kind, algorithm, name) of each mismatch recorded on it
    mismatches: dict[str, set[tuple[str, str | None, str]]] = field(default_factory=dict)
    #: chain -> body of its collector.container
    closed: dict[str, dict[str, Any]] = field(default_factory=dict)


def sealed_facts(vault: Vault, chains: Sequence[str]) -> Sealed:
    out = Sealed()
    if not chains:
        return out
    types = (
        EventType.collector_item.value,
        EventType.collector_mismatch.value,
        EventType.collector_container.value,
    )
    for e in vault.ledger.reader.item_events(chains, types):
        assert e.item is not None
        if e.type == EventType.collector_item:
            out.items.add(e.item)
        elif e.type == EventType.collector_container:
            out.closed[e.item] = dict(decode_event(e.canonical).body)
        else:
            b = decode_event(e.canonical).body
            key = (str(b.get("kind")), b.get("algorithm"), str(b.get("name")))
            out.mismatches.setdefault(e.item, set()).add(key)
    return out


@dataclass(frozen=True)
class Run:
    container_id: str
    #: the container artifact an interrupted run left (None: a fresh run)
    container: Artifact | None


def find_run(vault: Vault, case: str, sha256: str) -> Run:
    """The unfinished run of this container in this case, else the next fresh one."""
    return _runs(vault, case, sha256)[0]


def last_closed(vault: Vault, case: str, sha256: str) -> tuple[str, dict[str, Any]] | None:
    """The container id and `collector.container` body of the last finished run."""
    return _runs(vault, case, sha256)[1]


def _runs(vault: Vault, case: str, sha256: str) -> tuple[Run, tuple[str, dict[str, Any]] | None]:
    closed: tuple[str, dict[str, Any]] | None = None
    for n in count():
        cid = container_id(case, sha256, n)
        art = sealed_artifacts(vault, [cid]).get(cid)
        if art is None:
            return Run(cid, None), closed
        body = sealed_facts(vault, [cid]).closed.get(cid)
        if body is None:
            return Run(cid, art), closed
        closed = (cid, body)
    raise AssertionError("unreachable")
