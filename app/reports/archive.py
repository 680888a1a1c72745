"""Issued PDF reports kept in the write-once store, one object per version.

`reports/<case>/<sha256 as issued>/<version>.pdf`, version 0 as issued, each renewal (an
archive document timestamp, `app.renewal.reports`) a new version beside it, never an
overwrite; `<version>.json` says who timestamped that version last and when that TSA's
certificate expires, so a renewal pass need not parse every PDF to know what is due.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from storage.base import ObjectStore
from verify.bundle.layout import safe_component

REPORTS_PREFIX = "reports/"


@dataclass(frozen=True)
class ReportVersion:
    case: str
    issued_sha256: str
    version: int
    sha256: str
    #: the TSA of the newest (document) time-stamp in this version
    tsa: str
    self_operated: bool
    #: when that TSA's certificate chain stops being valid
    expires: datetime

    @property
    def key(self) -> str:
        return version_key(self.case, self.issued_sha256, self.version)


def version_key(case: str, issued_sha256: str, version: int, ext: str = "pdf") -> str:
    return f"{REPORTS_PREFIX}{safe_component(case)}/{issued_sha256}/{version:04d}.{ext}"


def keep(store: ObjectStore, v: ReportVersion, pdf: bytes) -> None:
    """Write one version (the PDF, then its description); write-once keys refuse a rewrite."""
    store.put_bytes(v.key, pdf)
    doc = {
        "case": v.case,
        "issued_sha256": v.issued_sha256,
        "version": v.version,
        "sha256": v.sha256,
        "tsa": v.tsa,
        "self_operated": v.self_operated,
        "expires": v.expires.isoformat(),
    }
    store.put_bytes(
        version_key(v.case, v.issued_sha256, v.version, "json"),
        json.dumps(doc, sort_keys=True).encode(),
    )


def latest_versions(store: ObjectStore) -> Iterator[ReportVersion]:
    """The newest version of every issued report in the store."""
    newest: dict[str, str] = {}
    for key in store.list_keys(REPORTS_PREFIX):
        if key.endswith(".json"):
            lineage = key.rsplit("/", 1)[0]
            newest[lineage] = max(newest.get(lineage, ""), key)
    for key in sorted(newest.values()):
        doc = json.loads(store.read_bytes(key))
        yield ReportVersion(
            case=str(doc["case"]),
            issued_sha256=str(doc["issued_sha256"]),
            version=int(doc["version"]),
            sha256=str(doc["sha256"]),
            tsa=str(doc["tsa"]),
            self_operated=bool(doc["self_operated"]),
            expires=datetime.fromisoformat(doc["expires"]),
        )
