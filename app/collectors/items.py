"""What one collected file's chain must say: its `collector.item` (the collector's record
beside the hashes the vault computed) and each disagreement as a `collector.mismatch`.

Derived from the plan and the stored digests alone, so that a resumed collection can
tell which of these events an interrupted run already sealed and add only the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.artifacts.models import Artifact
from app.collectors.plan import PlannedItem
from app.events.collector_events import (
    Collector,
    CollectorItemV1,
    CollectorMismatchV1,
    HashCheck,
    MismatchKind,
)
from custody.ledger import Receipt
from storage.hashing import Digests


@dataclass(frozen=True)
class ItemResult:
    artifact: str
    file_name: str
    source_path: str | None
    sha256: str
    matches: bool | None
    listed: bool


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    name: str
    artifact: str | None
    algorithm: str | None = None
    recorded: str | None = None
    computed: str | None = None

    def body(self, collector: Collector, container: str | None) -> CollectorMismatchV1:
        return CollectorMismatchV1(
            collector=collector,
            container=container,
            kind=self.kind,
            name=self.name[:4096],
            algorithm=self.algorithm,
            recorded=self.recorded,
            computed=self.computed,
        )

    @property
    def key(self) -> tuple[str, str | None, str]:
        """What tells two mismatch events of one chain apart."""
        return (self.kind, self.algorithm, self.name[:4096])


@dataclass
class CollectionResult:
    collector: Collector
    container: Artifact
    receipt: Receipt
    provenance: list[Artifact] = field(default_factory=list)
    items: list[ItemResult] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    #: items an earlier, interrupted run of this collection had already sealed
    resumed: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class ItemFacts:
    body: CollectorItemV1
    mismatches: list[Mismatch]
    result: ItemResult


def item_facts(
    collector: Collector,
    container: str,
    provenance: list[str],
    planned: PlannedItem,
    artifact: str,
    file_name: str,
    digests: Digests,
) -> ItemFacts:
    computed = {"sha256": digests.sha256, "sha1": digests.sha1, "md5": digests.md5}
    checks = [
        HashCheck(algorithm=alg, recorded=value, computed=computed[alg])
        for alg, value in planned.recorded.items()
    ]
    matches = all(c.recorded == c.computed for c in checks) if checks else None
    body = CollectorItemV1(
        collector=collector,
        container=container,
        provenance=provenance,
        source_path=planned.source_path,
        stored_name=planned.member,
        times=planned.times,
        checks=checks,
        matches=matches,
    )
    name = planned.source_path or planned.member
    found = [
        Mismatch("hash", name, artifact, c.algorithm, c.recorded, c.computed)
        for c in checks
        if c.recorded != c.computed
    ]
    if planned.recorded_size is not None and planned.recorded_size != digests.size:
        found.append(
            Mismatch("size", name, artifact, None, str(planned.recorded_size), str(digests.size))
        )
    if not planned.listed:
        found.append(Mismatch("unlisted_file", planned.member, artifact))
    result = ItemResult(
        artifact, file_name, planned.source_path, digests.sha256, matches, planned.listed
    )
    return ItemFacts(body, found, result)
