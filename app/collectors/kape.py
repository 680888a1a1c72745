"""KAPE target output (zipped), read through the logs KAPE writes beside what it copied.

KAPE is closed source; the columns follow the CSV layouts that Timeline Explorer's KAPE
file spec (TLEFileKAPE, by KAPE's author) expects:
- `*_CopyLog.csv`: `CopiedTimestamp,SourceFile,DestinationFile,FileSize,SourceFileSha1,
  DeferredCopy,CreatedOnUtc,ModifiedOnUtc,LastAccessedOnUtc,CopyDuration`, times in UTC;
- `*_SkipLog.csv`: `SourceFile,SourceFileSha1,Reason` (deduplicated or excluded files).
Both are written with a UTF-8 byte order mark. `DestinationFile` is the path on the
machine KAPE wrote to (`<tdest>\\<drive>\\<path>`); inside the zip the same file lies at
the copy log's folder plus the trailing part of that path.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from posixpath import dirname

from app.collectors.errors import MalformedCollection
from app.collectors.plan import CollectionPlan, PlannedItem, hex_digest, iso_or_none, parse_when

COPY_LOG = "_copylog.csv"
SKIP_LOG = "_skiplog.csv"
CONSOLE_LOG = "_consolelog.txt"
REQUIRED = ("CopiedTimestamp", "SourceFile", "DestinationFile", "FileSize", "SourceFileSha1")
MAX_LOG = 64 << 20


def is_kape(names: set[str]) -> bool:
    return any(n.lower().endswith(COPY_LOG) for n in names)


def _logs(names: set[str]) -> set[str]:
    return {n for n in names if n.lower().endswith((COPY_LOG, SKIP_LOG, CONSOLE_LOG))}


def _rows(zf: zipfile.ZipFile, name: str) -> Iterator[dict[str, str]]:
    if zf.getinfo(name).file_size > MAX_LOG:
        raise MalformedCollection(f"{name} is larger than {MAX_LOG} bytes")
    with zf.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            reader = csv.DictReader(text)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise MalformedCollection(f"{name} lacks the columns {', '.join(missing)}")
            yield from reader
        except (csv.Error, UnicodeDecodeError) as exc:
            raise MalformedCollection(f"{name} is not a readable CSV: {exc}") from exc


def _member(dest: str, base: str, lowered: dict[str, str]) -> str | None:
    parts = [p for p in dest.replace("\\", "/").split("/") if p]
    for k in range(len(parts)):
        tail = "/".join(parts[k:])
        found = lowered.get(f"{base}/{tail}".lower() if base else tail.lower())
        if found is not None:
            return found
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def plan(zf: zipfile.ZipFile) -> CollectionPlan:
    names = {i.filename for i in zf.infolist() if not i.is_dir()}
    logs = _logs(names)
    collected = names - logs
    lowered = {n.lower(): n for n in collected}
    items: dict[str, PlannedItem] = {}
    missing: list[str] = []
    for log in sorted(n for n in logs if n.lower().endswith(COPY_LOG)):
        base = dirname(log)
        for row in _rows(zf, log):
            dest = row.get("DestinationFile") or ""
            member = _member(dest, base, lowered)
            source = row.get("SourceFile") or None
            if member is None:
                missing.append(source or dest)
                continue
            sha1 = hex_digest("sha1", row.get("SourceFileSha1"))
            times = {
                k: t
                for k, col in (
                    ("created", "CreatedOnUtc"),
                    ("modified", "ModifiedOnUtc"),
                    ("accessed", "LastAccessedOnUtc"),
                )
                if (t := iso_or_none(row.get(col))) is not None
            }
            items[member] = PlannedItem(
                member=member,
                source_path=source,
                copied_at=parse_when(row.get("CopiedTimestamp")),
                times=times,
                recorded={"sha1": sha1} if sha1 else {},
                recorded_size=_int(row.get("FileSize")),
            )
    for member in sorted(collected - set(items)):
        items[member] = PlannedItem(member=member, source_path=None, copied_at=None, listed=False)
    return CollectionPlan(
        collector="kape",
        tool="KAPE",
        method="KAPE target collection",
        source_host=None,
        provenance=sorted(logs),
        items=sorted(items.values(), key=lambda i: i.member),
        missing=missing,
    )
