"""The collector's hashes in a bundle: what the vault said about them is re-derived.

A `collector.item` event states, for each hash the collector recorded, the hash the
vault computed. For a file out of a container (Velociraptor, KAPE) that computed hash
is the item's own, so it must equal what the item's ingest event recorded (and the
artifact checks tie that to the bytes): a collector.item claiming a match the bytes do
not have fails here. Every disagreement the item states must have its own
`collector.mismatch` event on the item's chain: a mismatch is never left out of the
record. An EWF image's computed hashes are of the media inside it, which this offline
check does not decode; its stored-versus-computed agreement is reported as recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verify.errors import ArtifactHashMismatch, MalformedInput, MissingEvent
from verify.event_types import EventType
from verify.events import Event

COLLECTOR_TYPES = frozenset({EventType.collector_item.value, EventType.collector_mismatch.value})


def _checks(ev: Event, subject: str) -> list[Mapping[str, Any]]:
    checks = ev.body.get("checks")
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise MalformedInput("its hash checks are malformed", subject=subject)
    return checks


def check_collector(
    events: list[tuple[int, Event]], ingests: Mapping[str, Event]
) -> tuple[str, int]:
    """Returns the summary and how many items differ from their collector's hash."""
    recorded_mismatches = {
        (ev.item, ev.body.get("algorithm"), ev.body.get("recorded"), ev.body.get("computed"))
        for _, ev in events
        if ev.type == EventType.collector_mismatch and ev.body.get("kind") == "hash"
    }
    items = [(i, ev) for i, ev in events if ev.type == EventType.collector_item]
    matched = differ = unrecorded = 0
    for index, ev in items:
        subject = f"event {index}"
        checks = _checks(ev, subject)
        ingest = ingests.get(str(ev.item))
        own_bytes = ev.body.get("container") is not None
        if own_bytes and ingest is None:
            raise MissingEvent(f"the ingest of {ev.item} is not in the bundle", subject=subject)
        bad = False
        for c in checks:
            alg, rec, comp = c.get("algorithm"), c.get("recorded"), c.get("computed")
            if own_bytes and ingest is not None and ingest.body.get(str(alg)) != comp:
                raise ArtifactHashMismatch(
                    f"it states the vault computed {alg} {comp} for {ev.item}; the ingest "
                    f"recorded {ingest.body.get(str(alg))}",
                    subject=subject,
                )
            if rec != comp:
                bad = True
                if (ev.item, alg, rec, comp) not in recorded_mismatches:
                    raise MissingEvent(
                        f"{ev.item}'s {alg} differs from the collector's ({rec}) and no "
                        "collector.mismatch event records it",
                        subject=subject,
                    )
        if not checks:
            unrecorded += 1
        elif bad:
            differ += 1
        else:
            matched += 1
    summary = (
        f"{len(items)} collected item(s): {matched} match their collector's hashes, "
        f"{differ} differ (each recorded by a collector.mismatch event), "
        f"{unrecorded} without a hash from the collector"
    )
    return summary, differ
