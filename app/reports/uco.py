"""CASE/UCO (JSON-LD) export of a case's provenance, from the same data as the report.

Mapping (CASE 1.x, UCO 1.x):
- the case is a `case-investigation:Investigation` whose `core:object` lists everything else;
- each artifact is a `uco-observable:File` with a FileFacet and a ContentDataFacet carrying
  its SHA-256, SHA-1 and MD5 as `uco-types:Hash`;
- custody is a chain of `case-investigation:ProvenanceRecord`s per artifact: ingest creates
  the first, each transfer consumes the current one and results in the next (same
  `rootExhibitNumber`), and every access or annotation acts on the current one;
- ingest, access, transfer, annotation, legal holds and report issuance are
  `case-investigation:InvestigativeAction`s; containment actions are `uco-action:Action`s
  (they act on systems, not evidence); each action references its ledger leaf through a
  `core:ExternalReference`, so every node can be matched to a verifiable receipt.

Node IRIs end in name-based UUIDs (v5) derived from the ledger origin and the fact, so
exporting the same case twice yields the same identifiers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.reports.models import ArtifactReport, CaseReport, EventEntry
from verify.event_types import EventType

CONTEXT = {
    "kb": "urn:locard:kb:",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_HASHES = (("sha256", "SHA256"), ("sha1", "SHA1"), ("md5", "MD5"))
_CHARACTERIZATIONS = frozenset(
    {
        "uco-types:Hash",
        "uco-observable:FileFacet",
        "uco-observable:ContentDataFacet",
        "uco-core:ExternalReference",
    }
)
# CASE's ActionStatusTypeVocab for the vault's containment outcomes.
_STATUS = {"succeeded": "Success", "failed": "Fail", "partial": "Error", "pending": "Pending"}
_INVESTIGATIVE: dict[str, str] = {
    EventType.ingest: "Evidence ingest",
    EventType.access: "Evidence access",
    EventType.transfer: "Custody transfer",
    EventType.annotation: "Evidence annotation",
    EventType.hold_set: "Legal hold set",
    EventType.hold_released: "Legal hold released",
    EventType.report_issued: "Custody report issued",
    EventType.case_created: "Case opened",
    EventType.case_updated: "Case updated",
    EventType.case_member_added: "Case member added",
}


def _time(at: datetime | str) -> dict[str, str]:
    value = at if isinstance(at, str) else at.isoformat()
    return {"@type": "xsd:dateTime", "@value": value}


def _ref(iri: str) -> dict[str, str]:
    return {"@id": iri}


class _Graph:
    def __init__(self, report: CaseReport) -> None:
        self.report = report
        self.ns = uuid.uuid5(uuid.NAMESPACE_URL, f"locard:{report.anchor.origin}")
        self.nodes: list[dict[str, Any]] = []
        self.identities: dict[str, str] = {}

    def iri(self, kind: str, key: str) -> str:
        return f"kb:{kind}-{uuid.uuid5(self.ns, f'{self.report.case.id}/{kind}/{key}')}"

    def add(self, node: dict[str, Any]) -> str:
        self.nodes.append(node)
        return str(node["@id"])

    def identity(self, name: str, role: str | None = None) -> str:
        if name not in self.identities:
            self.identities[name] = self.add(
                {
                    "@id": self.iri("Identity", name),
                    "@type": "uco-identity:Identity",
                    "uco-core:name": name,
                    "uco-core:description": (
                        f"Locard principal ({role})" if role else "named by a responder"
                    ),
                }
            )
        return self.identities[name]

    def ledger_ref(self, e: EventEntry) -> str:
        return self.add(
            {
                "@id": self.iri("ExternalReference", str(e.index)),
                "@type": "uco-core:ExternalReference",
                "uco-core:definingContext": f"Locard ledger {self.report.anchor.origin}",
                "uco-core:externalIdentifier": f"leaf {e.index} {e.leaf_hash}",
            }
        )

    def action(
        self,
        e: EventEntry,
        *,
        kind: str,
        objects: list[str],
        results: list[str],
        tool: str,
    ) -> str:
        node: dict[str, Any] = {
            "@id": self.iri(kind.split(":")[-1], str(e.index)),
            "@type": kind,
            "uco-core:name": _INVESTIGATIVE.get(e.type, e.type),
            "uco-core:description": e.summary,
            "uco-action:startTime": _time(e.at),
            "uco-action:endTime": _time(e.at),
            "uco-action:performer": _ref(self.identity(e.actor.id, e.actor.role)),
            "uco-action:instrument": [_ref(tool)],
            "uco-core:externalReference": [_ref(self.ledger_ref(e))],
        }
        if objects:
            node["uco-action:object"] = [_ref(o) for o in objects]
        if results:
            node["uco-action:result"] = [_ref(r) for r in results]
        return self.add(node)

    def file(self, art: ArtifactReport) -> str:
        hashes = []
        for field, method in _HASHES:
            hashes.append(
                self.add(
                    {
                        "@id": self.iri("Hash", f"{art.id}/{field}"),
                        "@type": "uco-types:Hash",
                        "uco-types:hashMethod": method,
                        "uco-types:hashValue": {
                            "@type": "xsd:hexBinary",
                            "@value": getattr(art, field),
                        },
                    }
                )
            )
        file_facet = self.add(
            {
                "@id": self.iri("FileFacet", art.id),
                "@type": "uco-observable:FileFacet",
                "uco-observable:fileName": art.file_name,
                "uco-observable:sizeInBytes": art.size,
            }
        )
        content_facet = self.add(
            {
                "@id": self.iri("ContentDataFacet", art.id),
                "@type": "uco-observable:ContentDataFacet",
                "uco-observable:sizeInBytes": art.size,
                "uco-observable:mimeType": art.media_type,
                "uco-observable:hash": [_ref(h) for h in hashes],
            }
        )
        node: dict[str, Any] = {
            "@id": self.iri("File", art.id),
            "@type": "uco-observable:File",
            "uco-core:name": art.file_name,
            "uco-core:description": f"Locard evidence item {art.id}",
            "uco-core:hasFacet": [_ref(file_facet), _ref(content_facet)],
            "uco-core:objectCreatedTime": _time(art.ingested_at),
        }
        if art.notes:
            node["uco-core:description"] += f": {art.notes}"
        return self.add(node)

    def provenance(self, art: ArtifactReport, file_iri: str, e: EventEntry, holder: str) -> str:
        first = e.type == EventType.ingest
        return self.add(
            {
                "@id": self.iri("ProvenanceRecord", f"{art.id}/{e.index}"),
                "@type": "case-investigation:ProvenanceRecord",
                "case-investigation:exhibitNumber": art.id if first else f"{art.id}/{e.index}",
                "case-investigation:rootExhibitNumber": art.id,
                "uco-core:description": f"{art.file_name} in the custody of {holder}",
                "uco-core:createdBy": _ref(self.identity(e.actor.id, e.actor.role)),
                "uco-core:objectCreatedTime": _time(e.at),
                "uco-core:object": [_ref(file_iri)],
            }
        )


def to_jsonld(report: CaseReport) -> dict[str, Any]:
    g = _Graph(report)
    case = report.case
    tool = g.add(
        {
            "@id": g.iri("Tool", "locard"),
            "@type": "uco-tool:Tool",
            "uco-core:name": "Locard",
            "uco-core:description": (
                f"Forensic evidence vault; custody ledger {report.anchor.origin}, "
                f"anchored at checkpoint {report.anchor.size} ({report.anchor.root})"
            ),
            "uco-tool:toolType": "chain-of-custody vault",
        }
    )
    current: dict[str, str] = {}
    for art in report.artifacts:
        file_iri = g.file(art)
        for e in art.events:
            if e.type == EventType.ingest:
                record = g.provenance(art, file_iri, e, e.actor.id)
                current[art.id] = record
                g.action(
                    e,
                    kind="case-investigation:InvestigativeAction",
                    objects=[],
                    results=[record, file_iri],
                    tool=tool,
                )
            elif e.type == EventType.transfer and art.id in current:
                holder = str((e.body.get("to") or {}).get("id", "?"))
                g.identity(holder, str((e.body.get("to") or {}).get("role", "")) or None)
                record = g.provenance(art, file_iri, e, holder)
                g.action(
                    e,
                    kind="case-investigation:InvestigativeAction",
                    objects=[current[art.id]],
                    results=[record],
                    tool=tool,
                )
                current[art.id] = record
            else:
                g.action(
                    e,
                    kind="case-investigation:InvestigativeAction",
                    objects=[current[art.id]] if art.id in current else [file_iri],
                    results=[],
                    tool=tool,
                )
    investigation = g.iri("Investigation", case.id)
    for e in report.case_events:
        if e.type == EventType.containment:
            b = e.body
            performer = str(b.get("performed_by") or e.actor.id)
            node: dict[str, Any] = {
                "@id": g.iri("Action", str(e.index)),
                "@type": "uco-action:Action",
                "uco-core:name": f"Containment: {b.get('action', '')}",
                "uco-core:description": e.summary,
                "uco-action:actionStatus": _STATUS.get(str(b.get("outcome")), "Unknown"),
                "uco-action:performer": _ref(
                    g.identity(performer, e.actor.role if performer == e.actor.id else None)
                ),
                "uco-core:externalReference": [_ref(g.ledger_ref(e))],
            }
            performed = b.get("occurred_at") or b.get("performed_at")
            if performed:
                node["uco-action:startTime"] = _time(str(performed))
            g.add(node)
        else:
            objects = list(current.values()) if e.type.startswith("hold.") else [investigation]
            g.action(
                e,
                kind="case-investigation:InvestigativeAction",
                objects=objects,
                results=[],
                tool=tool,
            )
    # core:object takes UcoObjects only: facets, hashes and references hang off their owners.
    members = [_ref(str(n["@id"])) for n in g.nodes if n["@type"] not in _CHARACTERIZATIONS]
    g.nodes.insert(
        0,
        {
            "@id": investigation,
            "@type": "case-investigation:Investigation",
            "uco-core:name": case.id,
            "uco-core:description": f"{case.title}\n\n{case.description}".strip(),
            "case-investigation:investigationForm": "incident",
            "case-investigation:investigationStatus": case.status,
            "case-investigation:focus": [f"severity {case.severity}"],
            "uco-core:startTime": _time(case.created_at),
            "uco-core:object": members,
        },
    )
    return {"@context": CONTEXT, "@graph": g.nodes}
