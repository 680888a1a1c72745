"""Velociraptor offline collections, read the way Velociraptor writes them.

The layout and field names follow Velociraptor's source (Velocidex/velociraptor):
- reporting/container.go, `Container.Upload`: a collected file is stored at the zip
  member `uploads/<accessor>/<components...>`, each component escaped by
  `utils.SanitizeStringForZip` (utils/sanitize.go); its SHA-256 and MD5 are computed
  while it is copied and returned in the upload response (`sha256`, `md5`, `Path`,
  `StoredName`, `Components`; uploads/api.go).
- `Container.Close` writes `uploads.json`, one JSON row per upload: `Timestamp`,
  `started`, `vfs_path` (the response's `Path`), `_Components`, `file_size`,
  `uploaded_size`, `Type` -- no hashes. It then logs `Container hash <sha256>` of the
  whole zip, to the collector's log file beside the zip (the zip cannot hold its own
  hash).
- The hashes reach the results: artifacts/definitions/Generic/Collectors/File.yaml
  (which Windows.KapeFiles.Targets uses), source `Uploads`, writes
  `results/<Artifact>%2FUploads.json` rows with `CopiedOnTimestamp`, `SourceFile`,
  `DestinationFile` (= `Path` = `vfs_path`), `FileSize`, `SourceFileSha256`, `Created`,
  `Changed`, `Modified`, `LastAccessed`. Rows that carry the upload response itself
  (a column holding `sha256` and `Components`) are read too.
- vql/tools/collector/collector_manager.go writes `client_info.json` (the `info()` row:
  `Hostname`, `Fqdn`, ...), `requests.json`, `log.json` and
  `collection_context.json`.
- Encrypted collections (docs: deployment/offline_collections, "Collection security")
  are an outer zip holding `metadata.json` and the encrypted `data.zip`.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from typing import Any

from app.collectors.errors import EncryptedContainer, MalformedCollection
from app.collectors.plan import CollectionPlan, PlannedItem, hex_digest, iso_or_none, parse_when

PROVENANCE = ("collection_context.json", "client_info.json", "log.json", "requests.json")
UPLOADS_PREFIX = "uploads/"
#: bound on one JSON record file read into memory (rows are read line by line)
MAX_ROW = 1 << 20
MAX_DOC = 16 << 20


def is_velociraptor(names: set[str]) -> bool:
    return "collection_context.json" in names or (
        "uploads.json" in names and any(n.startswith(UPLOADS_PREFIX) for n in names)
    )


def is_encrypted(names: set[str]) -> bool:
    return "metadata.json" in names and "data.zip" in names


def sanitize_component(component: str) -> str:
    """`utils.SanitizeStringForZip`: how Velociraptor escapes one path component."""
    out: list[str] = []
    for pos, ch in enumerate(component):
        if (pos == 0 and ch in ". ") or ch in '?"*:|<>%/\\':
            out.append(f"%{ord(ch):02X}")
        else:
            out.append(ch)
    if out and out[-1] in (".", " "):
        out[-1] = f"%{ord(out[-1]):02X}"
    return "".join(out)


def member_of(components: list[str]) -> str:
    return "/".join(sanitize_component(c) for c in components if c)


def _rows(zf: zipfile.ZipFile, name: str) -> Iterator[dict[str, Any]]:
    """A Velociraptor result set: one JSON object per line."""
    if zf.getinfo(name).file_size > MAX_DOC:
        raise MalformedCollection(f"{name} is larger than {MAX_DOC} bytes")
    with zf.open(name) as fh:
        for n, raw in enumerate(fh, 1):
            if len(raw) > MAX_ROW:
                raise MalformedCollection(f"{name} line {n} is longer than {MAX_ROW} bytes")
            line = raw.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                raise MalformedCollection(f"{name} line {n} is not JSON: {exc}") from exc
            if not isinstance(row, dict):
                raise MalformedCollection(f"{name} line {n} is not a JSON object")
            yield row


def _doc(zf: zipfile.ZipFile, name: str) -> Any:
    if zf.getinfo(name).file_size > MAX_DOC:
        raise MalformedCollection(f"{name} is larger than {MAX_DOC} bytes")
    try:
        return json.loads(zf.read(name))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedCollection(f"{name} is not JSON: {exc}") from exc


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if type(value) is int else None


def _upload_response(row: dict[str, Any]) -> dict[str, Any] | None:
    for value in row.values():
        if isinstance(value, dict) and "sha256" in value and "Components" in value:
            return value
    return None


def plan(zf: zipfile.ZipFile) -> CollectionPlan:
    names = {i.filename for i in zf.infolist() if not i.is_dir()}
    if is_encrypted(names):
        raise EncryptedContainer(
            "an encrypted Velociraptor collection (metadata.json around data.zip): "
            "decrypt it with Velociraptor first and upload the decrypted collection"
        )
    # vfs_path -> member, from uploads.json (the container's own index of uploads)
    by_path: dict[str, str] = {}
    sizes: dict[str, int | None] = {}
    stamps: dict[str, object] = {}
    if "uploads.json" in names:
        for row in _rows(zf, "uploads.json"):
            comps = row.get("_Components")
            if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
                raise MalformedCollection("uploads.json row without a _Components list")
            if row.get("Type") == "idx":
                continue  # a sparse file's index, stored beside its file
            member = member_of(comps)
            path = _text(row.get("vfs_path")) or member
            by_path[path] = member
            sizes[member] = _int(row.get("file_size"))
            stamps[member] = row.get("Timestamp")
    items: dict[str, PlannedItem] = {}
    missing: list[str] = []
    absent: set[str] = set()
    for result in sorted(n for n in names if n.startswith("results/") and n.endswith(".json")):
        for row in _rows(zf, result):
            response = _upload_response(row)
            if response is not None:
                comps = response.get("Components")
                if not isinstance(comps, list):
                    continue
                member = member_of([str(c) for c in comps])
                sha256 = response.get("sha256")
                md5 = response.get("md5")
                source = _text(response.get("Path"))
                copied = row.get("CopiedOnTimestamp") or row.get("_ts")
            elif "DestinationFile" in row and "SourceFileSha256" in row:
                dest = _text(row.get("DestinationFile"))
                if dest is None:
                    continue
                found = by_path.get(dest)
                if found is None:
                    missing.append(dest)
                    continue
                member = found
                sha256, md5 = row.get("SourceFileSha256"), None
                source = _text(row.get("SourceFile")) or dest
                copied = row.get("CopiedOnTimestamp")
            else:
                continue
            if member not in names:
                missing.append(source or member)
                absent.add(member)
                continue
            recorded = {}
            for alg, value in (("sha256", sha256), ("md5", md5)):
                digest = hex_digest(alg, value)  # type: ignore[arg-type]
                if digest:
                    recorded[alg] = digest
            times = {
                k: t
                for k, col in (
                    ("created", "Created"),
                    ("changed", "Changed"),
                    ("modified", "Modified"),
                    ("accessed", "LastAccessed"),
                )
                if (t := iso_or_none(row.get(col))) is not None
            }
            items[member] = PlannedItem(
                member=member,
                source_path=source,
                copied_at=parse_when(copied),
                times=times,
                recorded=recorded,  # type: ignore[arg-type]
                recorded_size=_int(row.get("FileSize")) or sizes.get(member),
            )
    # Listed by uploads.json alone: the collector recorded the copy but no hash row.
    for path, member in by_path.items():
        if member in items or member in absent:
            continue
        if member not in names:
            missing.append(path)
            continue
        items[member] = PlannedItem(
            member=member,
            source_path=path,
            copied_at=parse_when(stamps.get(member)),
            recorded_size=sizes.get(member),
        )
    for member in sorted(n for n in names if n.startswith(UPLOADS_PREFIX)):
        if member not in items:
            items[member] = PlannedItem(
                member=member, source_path=None, copied_at=None, listed=False
            )
    host = None
    if "client_info.json" in names:
        info = _doc(zf, "client_info.json")
        if isinstance(info, dict):
            host = _text(info.get("Hostname")) or _text(info.get("Fqdn"))
    return CollectionPlan(
        collector="velociraptor",
        tool="Velociraptor",
        method="Velociraptor offline collection",
        source_host=host,
        provenance=[n for n in PROVENANCE if n in names],
        items=sorted(items.values(), key=lambda i: i.member),
        missing=missing,
    )
