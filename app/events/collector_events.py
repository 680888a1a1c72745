"""What a collector (Velociraptor, KAPE, an EWF acquisition) said about what it collected,
and whether the bytes agree.

Each collected file is its own artifact (an `ingest` on its own chain); these events sit
beside that ingest. `collector.item` links the item to its container and provenance
artifacts and carries the collector's own record: the endpoint path, MACB times and
the hashes it wrote down, each next to the one the vault computed. A disagreement is
also a `collector.mismatch` of its own, so that it is a fact that cannot be missed in a
timeline or a report rather than a flag inside a body. `collector.container` closes the
container's ingest: its hash (and the one the collector logged) and every item chain it
produced. None of them writes index rows: the chains are what the pages read.
"""

from __future__ import annotations

from typing import Literal

from app.events.catalogue import Body, EventSpec, EventType, declare
from app.events.phrases import Names
from app.events.text import short
from verify.events import Event

Collector = Literal["velociraptor", "kape", "ewf"]


class HashCheck(Body):
    algorithm: Literal["sha256", "sha1", "md5"]
    recorded: str
    computed: str


class CollectorItemV1(Body):
    collector: Collector
    #: the container artifact this item came out of (None: the item is the container,
    #: an EWF image)
    container: str | None
    provenance: list[str]
    #: the path on the endpoint, as the collector recorded it
    source_path: str | None
    #: where the item lay inside the container
    stored_name: str | None
    #: created / changed / modified / accessed on the endpoint, as the collector read them
    times: dict[str, str]
    checks: list[HashCheck]
    #: every recorded hash matched (None: the collector recorded none)
    matches: bool | None
    #: other facts the collector wrote beside the item (an EWF acquisition header)
    recorded: dict[str, str] = {}


MismatchKind = Literal["hash", "missing_file", "unlisted_file", "size"]


class CollectorMismatchV1(Body):
    collector: Collector
    container: str | None
    kind: MismatchKind
    #: the endpoint path or the member name the mismatch concerns
    name: str
    algorithm: str | None = None
    recorded: str | None = None
    computed: str | None = None


class CollectorContainerV1(Body):
    collector: Collector
    sha256: str
    #: the container hash the collector logged, when its log was given
    logged_sha256: str | None
    items: list[str]
    provenance: list[str]
    mismatches: int


def _summary_item(ev: Event, names: Names) -> str:
    b = ev.body
    state = {True: "hashes match", False: "HASH MISMATCH", None: "no hash recorded"}
    told = b["recorded"] if isinstance(b.get("recorded"), dict) else {}
    name = b.get("source_path") or b.get("stored_name") or told.get("evidence_number")
    return f"{b.get('collector')} item {short(name)}: {state.get(b.get('matches'), 'unknown')}"


_KIND_TEXT = {
    "hash": "hash differs from the collector's",
    "missing_file": "listed by the collector but absent from the container",
    "unlisted_file": "in the container but listed by no collector row",
    "size": "size differs from the collector's",
}


def _summary_mismatch(ev: Event, names: Names) -> str:
    b = ev.body
    what = _KIND_TEXT.get(str(b.get("kind")), str(b.get("kind")))
    detail = ""
    if b.get("algorithm"):
        detail = f" ({b['algorithm']} recorded {b.get('recorded')}, computed {b.get('computed')})"
    return f"MISMATCH {b.get('collector')}: {short(b.get('name'))} {what}{detail}"


def _summary_container(ev: Event, names: Names) -> str:
    b = ev.body
    items = b.get("items")
    n = len(items) if isinstance(items, list) else 0
    logged = b.get("logged_sha256")
    check = ""
    if logged:
        same = logged == b.get("sha256")
        check = ", matches the logged hash" if same else ", LOGGED HASH DIFFERS"
    return (
        f"{b.get('collector')} container SHA-256 {str(b.get('sha256', ''))[:16]}…{check}: "
        f"{n} items, {b.get('mismatches')} mismatches"
    )


COLLECTOR_ITEM = declare(
    EventSpec(EventType.collector_item, "evidence", {1: CollectorItemV1}, _summary_item)
)
COLLECTOR_MISMATCH = declare(
    EventSpec(EventType.collector_mismatch, "evidence", {1: CollectorMismatchV1}, _summary_mismatch)
)
COLLECTOR_CONTAINER = declare(
    EventSpec(
        EventType.collector_container, "evidence", {1: CollectorContainerV1}, _summary_container
    )
)
